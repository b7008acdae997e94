"""Asynchronous work around the pipeline: record / replay / mock, jobs with signed webhooks.

Everything here wraps ``Gateway.run`` from the outside; the pipeline does not know it exists.
"""

"""Canonical types and the error taxonomy. Imports nothing else of ours."""

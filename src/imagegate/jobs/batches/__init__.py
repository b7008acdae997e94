"""Batches in OpenAI's Batch API shape: uploaded JSONL files, validated and estimated at creation, run line by line
through the pipeline at bounded concurrency, results streamed to output and error files."""

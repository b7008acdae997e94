"""imagegate: a self-hosted, OpenAI-compatible gateway for image generation and editing models."""

__version__ = "0.1.0"

"""Entry point for uvicorn workers: build the app from the environment (``imagegate serve`` sets it)."""

from __future__ import annotations

import logging

from starlette.applications import Starlette

from imagegate.api.app import create_app
from imagegate.settings import Settings


def create_app_from_env() -> Starlette:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # migrations report only problems at start
    return create_app(Settings.load(), tune_runtime=True)

"""Optional dependencies: the extras that only some setups install, and the message when one is missing.

| extra | packages | needed for |
|---|---|---|
| ``postgres`` | psycopg | ``database_url`` on PostgreSQL |
| ``redis`` | redis | ``redis_url`` (routing state shared across workers) |
| ``vertex`` | google-auth | the Vertex AI provider |
| ``demo`` | httpx, cryptography, google-auth | ``imagegate demo`` and ``imagegate.testing`` (the fakes) |
"""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingExtra(RuntimeError):
    """A feature was asked for whose optional dependency is not installed."""


def missing(extra: str, what: str, package: str | None) -> MissingExtra:
    name = f" (the '{package}' package)" if package else ""
    return MissingExtra(
        f"{what} needs the optional dependency{name} of imagegate's '{extra}' extra: pip install 'imagegate[{extra}]'"
    )


def require(module: str, extra: str, what: str) -> ModuleType:
    """``import module``, or a ``MissingExtra`` that names the extra to install."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise missing(extra, what, exc.name) from None

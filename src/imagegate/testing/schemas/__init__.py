"""Published input schemas of the fal endpoints and Replicate models the catalog maps, as data (JSON Schema).

The fal and Replicate fakes validate every request against them, so a catalog mapping that sends a field a model
does not take, or a value outside its limits, fails in tests as it would upstream.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

_DIR = Path(__file__).parent


@cache
def schemas(provider: str) -> dict[str, Any]:
    """``{endpoint or model id: schema}`` for ``fal`` or ``replicate`` (keys starting with ``_`` are notes)."""
    data = json.loads((_DIR / f"{provider}.json").read_text())
    return {k: v for k, v in data.items() if not k.startswith("_")}


def validation_errors(schema: dict[str, Any], body: Any) -> list[tuple[list[Any], str, str]]:
    """``(path, message, validator)`` for every way ``body`` breaks ``schema`` (empty when it is valid)."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [(list(e.absolute_path), e.message, str(e.validator)) for e in validator.iter_errors(body)]

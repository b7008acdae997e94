"""Serialise an image answer without copying the base64 it passes through.

Provider base64 often arrives as ``memoryview`` slices of the upstream body (``providers/b64lift.py``). The
answer is dumped with a per-response marker in their place and sent as several ASGI body messages: the small
JSON around the images and the images themselves, never joined into one more multi-megabyte string.
"""

from __future__ import annotations

import secrets
from typing import Any

import orjson
from starlette.background import BackgroundTask
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

Part = bytes | memoryview


def encode_answer(body: dict[str, Any]) -> list[Part]:
    """The JSON bytes of ``body`` as parts; non-``str`` ``data[].b64_json`` values are spliced in raw."""
    raw: list[memoryview | bytes] = []
    nonce = ""
    for item in body.get("data", ()):
        value = item.get("b64_json")
        if value is not None and not isinstance(value, str):
            nonce = nonce or secrets.token_hex(8)
            item["b64_json"] = f"{nonce}:{len(raw)}"
            raw.append(value)
    dumped = orjson.dumps(body)
    if not raw:
        return [dumped]
    parts: list[Part] = []
    pos = 0
    for i, value in enumerate(raw):
        marker = f'"{nonce}:{i}"'.encode()
        at = dumped.index(marker, pos)
        parts.append(dumped[pos : at + 1])  # up to and including the opening quote
        parts.append(value)
        pos = at + len(marker) - 1  # the closing quote starts the next part
    parts.append(dumped[pos:])
    return parts


class PartsResponse(Response):
    """A JSON response sent as several body messages (no join of large parts)."""

    media_type = "application/json"

    def __init__(
        self,
        parts: list[Part],
        status_code: int = 200,
        headers: dict[str, str] | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        self.parts = parts
        super().__init__(b"", status_code=status_code, headers=headers, background=background)
        self.headers["content-length"] = str(sum(len(p) for p in parts))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        last = len(self.parts) - 1
        for i, part in enumerate(self.parts):
            await send({"type": "http.response.body", "body": part, "more_body": i < last})
        if self.background is not None:
            await self.background()

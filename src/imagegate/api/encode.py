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

from imagegate.core.slices import Slices

Part = bytes | memoryview


def encode_answer(body: dict[str, Any]) -> list[Part]:
    """The JSON bytes of ``body`` as parts; non-``str`` ``data[].b64_json`` values are spliced in raw."""
    splicer = Splicer()
    for item in body.get("data", ()):
        value = item.get("b64_json")
        if value is not None:
            item["b64_json"] = splicer.mark(value)
    return splicer.encode(body)


class Splicer:
    """Serialise JSON holding large base64 values without copying them: ``mark`` a value to get a placeholder
    string (it may sit inside a longer string, e.g. a data URL); ``encode`` dumps the object and splits the
    bytes around each placeholder, the values in between as they are."""

    __slots__ = ("nonce", "raw")

    def __init__(self) -> None:
        self.nonce = ""
        self.raw: list[Part | Slices] = []

    def mark(self, value: str | Part | Slices) -> str:
        if isinstance(value, str):
            return value
        self.nonce = self.nonce or secrets.token_hex(8)
        self.raw.append(value)
        return f"{self.nonce}:{len(self.raw) - 1}:"

    def encode(self, body: Any) -> list[Part]:
        dumped = orjson.dumps(body)
        if not self.raw:
            return [dumped]
        parts: list[Part] = []
        pos = 0
        for i, value in enumerate(self.raw):
            marker = f"{self.nonce}:{i}:".encode()
            at = dumped.index(marker, pos)
            parts.append(dumped[pos:at])
            if isinstance(value, Slices):
                parts.extend(value.parts)  # the receive chunks' own bytes, one body message each
            else:
                parts.append(value)
            pos = at + len(marker)
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

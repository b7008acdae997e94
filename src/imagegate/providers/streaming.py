"""The streaming seam between adapters and the gateway: partial images and progress, as they happen.

An adapter that can stream (OpenAI's Images API with ``partial_images``) hands each partial image to the call's
``PartialSink`` the moment it arrives; adapters that cannot stream simply return their ``ImageResult`` and may
report progress (a queue position, a log line) as text. ``iter_sse`` reads an upstream ``text/event-stream`` body
without the line-length limits of ``aiohttp``'s ``readline`` (a partial image is megabytes on one line).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

import aiohttp


@dataclass(slots=True)
class PartialImage:
    """One partial image as the upstream sent it."""

    index: int  # partial_image_index, 0-based
    b64: str | memoryview  # base64 image (a zero-copy slice of the upstream event when lifted)
    event: str  # the upstream event type, e.g. "image_generation.partial_image"
    raw: bytes | memoryview | None = None  # the upstream event's data JSON, relayed verbatim when set


class PartialSink(Protocol):
    """Where an attempt's partial images and progress notes go (one sink per attempt)."""

    async def partial(self, image: PartialImage) -> None: ...

    def progress(self, text: str) -> None: ...


@dataclass(slots=True)
class SseEvent:
    event: str | None
    data: memoryview  # the data field (joined data lines), a slice of the received bytes


async def iter_sse(content: aiohttp.StreamReader, max_event_bytes: int) -> AsyncIterator[SseEvent]:
    """Yield the events of an SSE body as they complete. Comments and ids are skipped."""
    buf = bytearray()
    scan = 0
    async for chunk in content.iter_any():
        buf += chunk
        while True:
            end, sep = _event_end(buf, scan)
            if end < 0:
                scan = max(0, len(buf) - 3)
                if len(buf) > max_event_bytes:
                    raise ValueError(f"an upstream event exceeds {max_event_bytes} bytes")
                break
            block = bytes(buf[:end])
            del buf[: end + sep]
            scan = 0
            event = _parse_block(block)
            if event is not None:
                yield event
    if buf.strip():
        event = _parse_block(bytes(buf))
        if event is not None:
            yield event


def _event_end(buf: bytearray, start: int) -> tuple[int, int]:
    """Position and length of the first blank-line separator at or after ``start`` (``\\n\\n`` or ``\\r\\n\\r\\n``)."""
    lf = buf.find(b"\n\n", start)
    crlf = buf.find(b"\r\n\r\n", start)
    if crlf >= 0 and (lf < 0 or crlf < lf):
        return crlf, 4
    return lf, 2 if lf >= 0 else 0


def _parse_block(block: bytes) -> SseEvent | None:
    event: str | None = None
    data: list[memoryview] = []
    view = memoryview(block)
    pos = 0
    while pos <= len(block):
        nl = block.find(b"\n", pos)
        end = len(block) if nl < 0 else nl
        line = view[pos:end]
        if len(line) and line[-1] == 0x0D:  # '\r'
            line = line[:-1]
        pos = end + 1
        if nl < 0 and end == len(block) and not len(line):
            break
        if not len(line) or line[0] == 0x3A:  # ':' comment
            if nl < 0:
                break
            continue
        colon = bytes(line[:16]).find(b":")
        name = bytes(line if colon < 0 else line[:colon])
        value = line[len(line) :] if colon < 0 else line[colon + 1 :]
        if len(value) and value[0] == 0x20:
            value = value[1:]
        if name == b"event":
            event = bytes(value).decode("utf-8", "replace")
        elif name == b"data":
            data.append(value)
        if nl < 0:
            break
    if not data:
        return None
    joined = data[0] if len(data) == 1 else memoryview(b"\n".join(bytes(d) for d in data))
    return SseEvent(event, joined)

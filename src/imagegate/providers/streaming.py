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
    data: bytes  # the data field (data lines joined by newlines)


async def iter_sse(content: aiohttp.StreamReader, max_event_bytes: int) -> AsyncIterator[SseEvent]:
    """Yield the events of an SSE body as they complete. Comments and ids are skipped.

    Linear in the body: each chunk is searched once, by ``memchr`` for newlines (a base64 line of megabytes has
    none), and an event's data is copied once, straight out of the receive buffer.
    """
    buf = bytearray()
    scan = 0
    async for chunk in content.iter_any():
        buf += chunk
        head = 0  # start of the next event in buf
        while (found := _event_end(buf, max(head, scan)))[0] >= 0:
            end, sep = found
            event = _parse_block(buf, head, end)
            head = scan = end + sep
            if event is not None:
                yield event
        if head:  # once per chunk: keep only the unfinished event, in a fresh buffer (memory goes back)
            buf = buf[head:] if head < len(buf) else bytearray()
            scan = 0
        scan = max(scan, len(buf) - 3)
        if len(buf) > max_event_bytes:
            raise ValueError(f"an upstream event exceeds {max_event_bytes} bytes")
    if buf.strip():
        event = _parse_block(buf, 0, len(buf))
        if event is not None:
            yield event


def _event_end(buf: bytearray, start: int) -> tuple[int, int]:
    """Position and length of the first blank-line separator at or after ``start`` (``\\n\\n`` or ``\\r\\n\\r\\n``)."""
    i = buf.find(b"\n", start)
    while i >= 0:
        nxt = buf[i + 1 : i + 3]
        if nxt[:1] == b"\n":
            return i, 2
        if nxt == b"\r\n" and i > 0 and buf[i - 1] == 0x0D:
            return i - 1, 4
        i = buf.find(b"\n", i + 1)
    return -1, 0


def _parse_block(buf: bytearray, pos: int, size: int) -> SseEvent | None:
    """The event held in ``buf[pos:size]`` (its lines, without the blank line that ends it)."""
    event: str | None = None
    spans: list[tuple[int, int]] = []
    while pos < size:
        nl = buf.find(b"\n", pos, size)
        end = size if nl < 0 else nl
        start, pos = pos, end + 1
        if end > start and buf[end - 1] == 0x0D:  # '\r'
            end -= 1
        if end == start or buf[start] == 0x3A:  # blank, or a ':' comment
            continue
        colon = buf.find(b":", start, min(end, start + 16))
        name = bytes(buf[start:end] if colon < 0 else buf[start:colon])
        value = end if colon < 0 else colon + 1
        if value < end and buf[value] == 0x20:
            value += 1
        if name == b"event":
            event = buf[value:end].decode("utf-8", "replace")
        elif name == b"data":
            spans.append((value, end))
    if not spans:
        return None
    with memoryview(buf) as view:
        data = b"\n".join(view[a:b] for a, b in spans) if len(spans) > 1 else bytes(view[spans[0][0] : spans[0][1]])
    return SseEvent(event, data)

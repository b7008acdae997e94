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

    async def partial_part(self, kind: str, data: bytes, first: bool, last: bool) -> None:
        """A piece of a partial-image event still arriving (its data JSON, verbatim), relayed as it comes."""
        ...

    def progress(self, text: str) -> None: ...


@dataclass(slots=True)
class SseEvent:
    event: str | None
    data: bytes  # the data field (data lines joined by newlines)


@dataclass(slots=True)
class SsePart:
    """A piece of one event's single data line, passed on before the line is complete (see ``iter_sse``)."""

    event: str
    data: bytes
    first: bool
    last: bool


async def iter_sse(
    content: aiohttp.StreamReader, max_event_bytes: int, pass_through: tuple[str, ...] = ()
) -> AsyncIterator[SseEvent | SsePart]:
    """Yield the events of an SSE body as they complete; comments and ids are skipped.

    An event whose ``event:`` name ends with one of ``pass_through`` and whose data line is still arriving is yielded
    as ``SsePart`` pieces as its bytes come in (first piece, ..., last piece), so a relay can forward a partial image
    of megabytes while it is still being received instead of after. Linear in the body: lines are found by
    ``memchr`` (a base64 line has no newline), data is copied once out of the receive buffer.
    """
    buf = bytearray()
    name: str | None = None
    data: list[bytes] = []
    passing = False
    scan = 0  # buf[:scan] is known to hold no newline
    async for chunk in content.iter_any():
        buf += chunk
        pos = 0
        while True:
            nl = buf.find(b"\n", max(pos, scan))
            if passing:
                end = len(buf) if nl < 0 else nl
                cut = end - 1 if nl >= 0 and end > pos and buf[end - 1] == 0x0D else end
                if nl < 0 and cut > pos and buf[cut - 1] == 0x0D:
                    cut -= 1  # a "\r" that may start the line's end: keep it for the next chunk
                if cut > pos or nl >= 0:
                    yield SsePart(name or "", bytes(buf[pos:cut]), first=False, last=nl >= 0)
                pos = cut if nl < 0 else nl + 1
                if nl < 0:
                    break
                passing, name, data = False, None, []
                continue
            if nl < 0:
                if pass_through and name is not None and not data and name.endswith(pass_through):
                    start = _data_value(buf, pos)
                    if start is not None:  # the data line has begun: pass it on as it arrives
                        passing = True
                        yield SsePart(name, bytes(buf[start:]), first=True, last=False)
                        pos = len(buf)
                break
            end = nl - 1 if nl > pos and buf[nl - 1] == 0x0D else nl
            line_start, pos = pos, nl + 1
            if end == line_start:  # a blank line ends the event
                if data:
                    yield SseEvent(name, data[0] if len(data) == 1 else b"\n".join(data))
                name, data = None, []
                continue
            if buf[line_start] == 0x3A:  # ':' comment
                continue
            colon = buf.find(b":", line_start, min(end, line_start + 16))
            field = bytes(buf[line_start:end] if colon < 0 else buf[line_start:colon])
            value = end if colon < 0 else colon + 1
            if value < end and buf[value] == 0x20:
                value += 1
            if field == b"event":
                name = buf[value:end].decode("utf-8", "replace")
            elif field == b"data":
                data.append(bytes(buf[value:end]))
        if pos:  # once per chunk: keep the unfinished line, in a fresh buffer (memory goes back)
            buf = buf[pos:] if pos < len(buf) else bytearray()
        scan = len(buf)  # what is left is one unfinished line
        if len(buf) + sum(len(d) for d in data) > max_event_bytes:
            raise ValueError(f"an upstream event exceeds {max_event_bytes} bytes")
    if data:
        yield SseEvent(name, data[0] if len(data) == 1 else b"\n".join(data))
    elif buf.strip().startswith(b"data:"):
        start = _data_value(buf, 0)
        yield SseEvent(name, bytes(buf[start:].rstrip(b"\r\n")) if start is not None else b"")


def _data_value(buf: bytearray, pos: int) -> int | None:
    """Where the value of a ``data:`` line starting at ``pos`` begins (None: not a data line, or too short yet)."""
    if len(buf) - pos < 6 or buf[pos : pos + 5] != b"data:":
        return None
    return pos + 6 if buf[pos + 5] == 0x20 else pos + 5

"""Parse a provider's JSON answer without parsing the base64 images inside it.

A 1.5 MB image is 2 MB of base64 inside the JSON. Parsing it into a Python string and serialising it again
costs ~0.9 ms of CPU per image (``bench/hotpath/b64_passthrough.py``); the gateway only needs to pass it
through. ``loads_lifting`` cuts every long string value of a named key (``"b64_json"``, Gemini's ``"data"``)
out of the body, parses the small remainder, and hands back zero-copy ``memoryview`` slices of the original
bytes in place of the strings. Base64 never contains a quote or a backslash, so the value ends at the next
quote; if a backslash (an escape) is found inside, the value is left in the JSON and parsed normally.

``lift_chunks`` does it over the receive chunks of a body that was never joined (``lift`` is the one-chunk case): a
value that spans chunks comes back as ``Slices`` (``core/slices.py``), the chunks' own bytes, and only the small
remainder is copied.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from imagegate.core.slices import Slices

MARKER = "\x1a"  # a JSON string value "\u001a<n>" marks a lifted value; never in base64
_MIN_LEN = 4096


Lifted = memoryview | Slices
Chunk = bytes | bytearray  # a receive chunk, or the one buffer a declared-length body was read into


def lift(body: bytes, key: bytes, min_len: int = _MIN_LEN) -> tuple[Chunk, list[Lifted]]:
    """Return ``body`` with long string values of ``key`` replaced by markers, and the lifted values."""
    return lift_chunks([body], key, min_len)


def lift_chunks(chunks: Sequence[Chunk], key: bytes, min_len: int = _MIN_LEN) -> tuple[Chunk, list[Lifted]]:
    """``lift`` over the concatenation of ``chunks`` without making it: a value inside one chunk comes back as a
    ``memoryview``, one across chunks as ``Slices``."""
    return _ChunkLifter(key, min_len).run(chunks)


class _ChunkLifter:
    """The scan of ``lift`` as a state machine fed one chunk at a time.

    Outside a value it searches the current buffer for ``"key" : "``; bytes that might begin such a match at a
    chunk's end are carried into the next buffer (the only copies: a few bytes, or one chunk when a match may
    straddle). Inside a value it only looks for the closing quote (and a backslash), keeping slices.
    """

    def __init__(self, key: bytes, min_len: int) -> None:
        self.needle = b'"' + key + b'"'
        self.min_len = min_len
        self.small: list[bytes | memoryview] = []  # the remainder, joined at the end
        self.lifted: list[Lifted] = []
        self.value: list[memoryview] | None = None  # inside a string value: its pieces so far
        self.escaped = False
        self.carry = b""

    def run(self, chunks: Sequence[Chunk]) -> tuple[Chunk, list[Lifted]]:
        for chunk in chunks:
            pos = 0
            if self.value is not None:
                pos = self._inside(chunk)
                if pos < 0:
                    continue
            buf = chunk if not self.carry else self.carry + memoryview(chunk)[pos:]
            self.carry = b""
            self._scan(buf, 0 if buf is not chunk else pos)
        if not self.lifted and len(chunks) == 1:
            return chunks[0], []  # nothing lifted: the body as it came, not a copy
        if self.value is not None:  # an unterminated string: left in the JSON, for the parser to refuse
            self.small.extend(self.value)
        self.small.append(self.carry)
        return b"".join(self.small), self.lifted

    def _inside(self, chunk: Chunk) -> int:
        """Extend the open value with ``chunk``; where its closing quote is, or -1 when it goes on."""
        assert self.value is not None
        end = chunk.find(b'"')
        stop = len(chunk) if end < 0 else end
        self.escaped = self.escaped or chunk.find(b"\\", 0, stop) >= 0
        if stop:
            self.value.append(memoryview(chunk)[:stop])
        if end < 0:
            return -1
        self._close()
        return end

    def _close(self) -> None:
        assert self.value is not None
        pieces, self.value = self.value, None
        size = sum(len(p) for p in pieces)
        if size < self.min_len or self.escaped:
            self.small.extend(pieces)  # kept in the JSON: parsed normally
        else:
            self.small.append(b"\\u001a%d" % len(self.lifted))
            self.lifted.append(pieces[0] if len(pieces) == 1 else Slices(pieces))
        self.escaped = False

    def _scan(self, buf: Chunk, pos: int) -> None:
        """Search ``buf[pos:]`` (outside any value) for lifted values; the tail that may start one is carried."""
        view = memoryview(buf)
        needle, n = self.needle, len(buf)
        search = pos
        while True:
            k = buf.find(needle, search)
            if k < 0:
                keep = max(search, n - len(needle) + 1)  # a needle may begin in the last bytes
                break
            i = _skip_ws(buf, k + len(needle))
            if i < n and buf[i] != 0x3A:  # ':'
                search = k + 1
                continue
            i = _skip_ws(buf, i + 1) if i < n else n
            if i >= n:  # the match runs past this chunk
                keep = k
                break
            if buf[i] != 0x22:  # '"': not a string value
                search = i
                continue
            start = i + 1
            end = buf.find(b'"', start)
            if end < 0:  # the value goes on into the next chunk
                self.small.append(view[pos:start])
                self.value = [view[start:]] if start < n else []
                self.escaped = buf.find(b"\\", start) >= 0
                return
            if end - start < self.min_len or buf.find(b"\\", start, end) >= 0:
                search = end + 1
                continue
            self.small.append(view[pos:start])
            self.small.append(b"\\u001a%d" % len(self.lifted))
            self.lifted.append(view[start:end])
            pos = end
            search = end + 1
        keep = max(keep, pos)
        self.small.append(view[pos:keep])
        self.carry = bytes(view[keep:])


def _skip_ws(buf: Chunk, i: int) -> int:
    while i < len(buf) and buf[i] in b" \t\r\n":
        i += 1
    return i


def loads_lifting(body: bytes, key: bytes, min_len: int = _MIN_LEN) -> tuple[Any, list[Lifted]]:
    """``orjson.loads`` with long ``key`` string values lifted out (see ``resolve``)."""
    small, lifted = lift(body, key, min_len)
    return orjson.loads(small), lifted


def loads_lifting_chunks(chunks: Sequence[Chunk], key: bytes, min_len: int = _MIN_LEN) -> tuple[Any, list[Lifted]]:
    """``loads_lifting`` over a body's receive chunks (never joined)."""
    small, lifted = lift_chunks(chunks, key, min_len)
    return orjson.loads(small), lifted


def resolve(value: Any, lifted: list[Lifted]) -> Any:
    """The lifted base64 for a marker string, else ``value`` unchanged."""
    if lifted and isinstance(value, str) and value.startswith(MARKER):
        index = value[1:]
        if index.isdigit() and int(index) < len(lifted):
            return lifted[int(index)]
    return value

"""Base64 held as zero-copy slices of the buffers it arrived in.

An upstream answer of 2 MB arrives as about nine 256 KiB receive chunks. Joining them into one ``bytes`` costs a
2 MB copy per image (about a tenth of the event loop's time relaying 1.5 MB images, by py-spy); ``providers/b64lift.py``
instead lifts each base64 value out of the chunks as it lies, and the response is written from the same slices
(``api/encode.py``). A value inside one buffer is a ``memoryview``; one that spans chunks is a ``Slices``.
"""

from __future__ import annotations


class Slices:
    """One base64 value spread over several buffers, in order. Reads as bytes without joining: ``len``, slicing
    (``value[:88]`` copies only what it returns) and ``parts`` for writing; ``bytes(value)`` joins."""

    __slots__ = ("_len", "parts")

    def __init__(self, parts: list[memoryview]) -> None:
        self.parts = parts
        self._len = sum(len(p) for p in parts)

    def __len__(self) -> int:
        return self._len

    def __bytes__(self) -> bytes:
        return b"".join(self.parts)

    def __getitem__(self, key: slice) -> bytes:
        start, stop, step = key.indices(self._len)
        if step != 1:
            return bytes(self)[key]
        out: list[memoryview] = []
        pos = 0
        for part in self.parts:
            end = pos + len(part)
            if end > start and pos < stop:
                out.append(part[max(0, start - pos) : min(len(part), stop - pos)])
            if end >= stop:
                break
            pos = end
        return b"".join(out)

    def __repr__(self) -> str:
        return f"Slices({len(self.parts)} parts, {self._len} bytes)"


B64 = str | memoryview | Slices  # base64 text as an image holds it


def contiguous(value: str | bytes | memoryview | Slices) -> str | bytes | memoryview:
    """``value`` as one buffer (``base64.b64decode`` and friends need one): ``Slices`` are joined, the rest as is."""
    return bytes(value) if isinstance(value, Slices) else value


def b64_text(value: B64) -> str:
    """The base64 as ``str`` (for JSON that is stored rather than sent)."""
    return value if isinstance(value, str) else bytes(value).decode("ascii")

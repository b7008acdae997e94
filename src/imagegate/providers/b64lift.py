"""Parse a provider's JSON answer without parsing the base64 images inside it.

A 1.5 MB image is 2 MB of base64 inside the JSON. Parsing it into a Python string and serialising it again
costs ~0.9 ms of CPU per image (``bench/hotpath/b64_passthrough.py``); the gateway only needs to pass it
through. ``loads_lifting`` cuts every long string value of a named key (``"b64_json"``, Gemini's ``"data"``)
out of the body, parses the small remainder, and hands back zero-copy ``memoryview`` slices of the original
bytes in place of the strings. Base64 never contains a quote or a backslash, so the value ends at the next
quote; if a backslash (an escape) is found inside, the value is left in the JSON and parsed normally.
"""

from __future__ import annotations

from typing import Any

import orjson

MARKER = "\x1a"  # a JSON string value "\u001a<n>" marks a lifted value; never in base64
_MIN_LEN = 4096


def lift(body: bytes, key: bytes, min_len: int = _MIN_LEN) -> tuple[bytes, list[memoryview]]:
    """Return ``body`` with long string values of ``key`` replaced by markers, and the lifted values."""
    needle = b'"' + key + b'"'
    view = memoryview(body)
    pieces: list[bytes | memoryview] = []
    lifted: list[memoryview] = []
    pos = 0
    search = 0
    while True:
        k = body.find(needle, search)
        if k < 0:
            break
        i = k + len(needle)
        while i < len(body) and body[i] in b" \t\r\n":
            i += 1
        if i >= len(body) or body[i] != 0x3A:  # ':'
            search = k + 1
            continue
        i += 1
        while i < len(body) and body[i] in b" \t\r\n":
            i += 1
        if i >= len(body) or body[i] != 0x22:  # '"': not a string value
            search = i
            continue
        start = i + 1
        end = body.find(b'"', start)
        if end < 0:
            break
        if end - start < min_len or body.find(b"\\", start, end) >= 0:
            search = end + 1
            continue
        pieces.append(view[pos:start])
        pieces.append(b"\\u001a%d" % len(lifted))
        lifted.append(view[start:end])
        pos = end
        search = end + 1
    if not lifted:
        return body, []
    pieces.append(view[pos:])
    return b"".join(pieces), lifted


def loads_lifting(body: bytes, key: bytes, min_len: int = _MIN_LEN) -> tuple[Any, list[memoryview]]:
    """``orjson.loads`` with long ``key`` string values lifted out (see ``resolve``)."""
    small, lifted = lift(body, key, min_len)
    return orjson.loads(small), lifted


def resolve(value: Any, lifted: list[memoryview]) -> Any:
    """The lifted base64 for a marker string, else ``value`` unchanged."""
    if lifted and isinstance(value, str) and value.startswith(MARKER):
        index = value[1:]
        if index.isdigit() and int(index) < len(lifted):
            return lifted[int(index)]
    return value

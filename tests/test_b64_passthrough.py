"""Base64 images pass through the gateway without being parsed or copied into new strings."""

from __future__ import annotations

import base64
import os

import orjson
import pytest

from imagegate.api.encode import encode_answer
from imagegate.providers.b64lift import MARKER, lift, loads_lifting, resolve


def big_b64(n: int = 50_000) -> str:
    return base64.b64encode(os.urandom(n)).decode()


def test_openai_answer_is_lifted_and_parsed() -> None:
    images = [big_b64(), big_b64()]
    body = orjson.dumps(
        {"created": 1, "data": [{"b64_json": b, "revised_prompt": "p"} for b in images], "usage": {"input_tokens": 3}}
    )
    data, lifted = loads_lifting(body, b"b64_json")
    assert len(lifted) == 2
    assert data["usage"] == {"input_tokens": 3}
    values = [resolve(item["b64_json"], lifted) for item in data["data"]]
    assert all(isinstance(v, memoryview) for v in values)
    assert [bytes(v).decode() for v in values] == images


def test_pretty_printed_gemini_answer() -> None:
    b64 = big_b64()
    body = (
        '{\n  "candidates": [{"content": {"parts": [\n    {"text": "a \\"data\\": thing"},\n'
        '    {"inlineData": {"mimeType": "image/png", "data" :  "' + b64 + '"}}]}}]\n}'
    ).encode()
    data, lifted = loads_lifting(body, b"data")
    parts = data["candidates"][0]["content"]["parts"]
    assert parts[0]["text"] == 'a "data": thing'
    assert bytes(resolve(parts[1]["inlineData"]["data"], lifted)).decode() == b64


@pytest.mark.parametrize("value", ["short", "with\\/escape" * 1000])
def test_short_or_escaped_values_stay_in_the_json(value: str) -> None:
    body = b'{"b64_json": "' + value.encode() + b'"}'
    small, lifted = lift(body, b"b64_json")
    assert lifted == [] and small == body
    assert orjson.loads(small)["b64_json"] == orjson.loads(body)["b64_json"]


def test_a_marker_is_never_confused_with_text() -> None:
    assert resolve(MARKER + "0", []) == MARKER + "0"
    assert resolve("plain", [memoryview(b"x")]) == "plain"


def test_encode_answer_splices_raw_values_exactly() -> None:
    b64 = big_b64()
    lifted = memoryview(b"xx" + b64.encode() + b"yy")[2:-2]
    body = {
        "created": 5,
        "data": [{"b64_json": lifted, "revised_prompt": 'a "quoted" prompt'}, {"b64_json": "small"}],
        "metadata": {"cost": 0.1},
    }
    parts = encode_answer(body)
    assert any(p is lifted for p in parts)  # spliced, not copied
    decoded = orjson.loads(b"".join(bytes(p) for p in parts))
    assert decoded["data"][0]["b64_json"] == b64
    assert decoded["data"][0]["revised_prompt"] == 'a "quoted" prompt'
    assert decoded["data"][1]["b64_json"] == "small"
    assert decoded["metadata"] == {"cost": 0.1}

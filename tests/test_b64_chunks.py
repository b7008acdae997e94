"""The base64 lift over a body's receive chunks (never joined) agrees with the lift over the joined body."""

from __future__ import annotations

import base64
import random

import orjson
import pytest

from imagegate.core.slices import Slices, b64_text, contiguous
from imagegate.providers.b64lift import lift, lift_chunks, loads_lifting_chunks, resolve


def b64(n: int, seed: int) -> str:
    return base64.b64encode(random.Random(seed).randbytes(n)).decode()


BODIES = [
    orjson.dumps({"created": 1, "data": [{"b64_json": b64(30_000, 1), "revised_prompt": 'a "b64_json": x'}]}),
    orjson.dumps({"data": [{"b64_json": b64(9_000, 2)}, {"b64_json": "short"}, {"b64_json": b64(20_000, 3)}]}),
    b'{ "data" : [ { "b64_json"  :\n  "' + b64(12_000, 4).encode() + b'" } ], "usage": {"x": 1} }',
    orjson.dumps({"data": [{"b64_json": "ab\\/" * 3000}], "b64_json": 5}),  # escaped: stays in the JSON
    orjson.dumps({"candidates": [{"content": {"parts": [{"inlineData": {"data": b64(15_000, 5)}}]}}]}),
]


def splits(body: bytes, rng: random.Random, pieces: int) -> list[bytes]:
    cuts = sorted(rng.sample(range(1, len(body)), pieces - 1))
    return [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]


@pytest.mark.parametrize("body", BODIES)
def test_any_split_lifts_the_same_values_as_the_joined_body(body: bytes) -> None:
    key = b"data" if b"candidates" in body else b"b64_json"
    small, lifted = lift(body, key)
    rng = random.Random(len(body))
    for trial in range(300):
        pieces = 2 + trial % 40
        chunks = splits(body, rng, pieces) if trial % 7 else [body[i : i + 1] for i in range(min(len(body), 64))]
        if trial % 7 == 0:
            chunks.append(body[64:])
        got_small, got = lift_chunks(chunks, key)
        assert got_small == small
        assert [bytes(v) for v in got] == [bytes(v) for v in lifted]


def test_a_value_across_chunks_is_slices_of_the_chunks_themselves() -> None:
    value = b64(300_000, 6)
    body = orjson.dumps({"data": [{"b64_json": value}], "usage": {"output_tokens": 7}})
    chunks = [body[i : i + 65536] for i in range(0, len(body), 65536)]
    data, lifted = loads_lifting_chunks(chunks, b"b64_json")
    got = resolve(data["data"][0]["b64_json"], lifted)
    assert isinstance(got, Slices) and data["usage"] == {"output_tokens": 7}
    assert all(part.obj is chunk for part, chunk in zip(got.parts, chunks, strict=False))  # no copies
    assert len(got) == len(value) and bytes(got).decode() == value == b64_text(got)
    assert got[:88] == value[:88].encode() and got[65530:65600] == value[65530:65600].encode()
    assert got[-3:] == value[-3:].encode() and got[10:200:7] == value[10:200:7].encode()
    assert base64.b64decode(contiguous(got)) == base64.b64decode(value)


def test_an_unterminated_value_is_left_for_the_parser_to_refuse() -> None:
    body = b'{"data": [{"b64_json": "' + b64(10_000, 7).encode()
    with pytest.raises(orjson.JSONDecodeError):
        loads_lifting_chunks([body[:5000], body[5000:]], b"b64_json")


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_large_upstream_answer_is_relayed_without_joining_it(chunked: bool) -> None:
    """Real loopback HTTP, a 3 MB answer read by ``UpstreamClient``. With a Content-Length it is read into one
    buffer of that length and the base64 is a slice of it; sent chunked, it stays in its receive chunks and is
    lifted across them. Either way it is written back out as those same bytes, the base64 never joined."""
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    from imagegate.api.encode import encode_answer
    from imagegate.providers.http import UpstreamClient

    value = b64(2_300_000, 8)
    answer = {"created": 1, "data": [{"b64_json": value, "revised_prompt": "p"}], "usage": {"output_tokens": 3}}
    raw = orjson.dumps(answer)

    async def handler(request: web.Request) -> web.StreamResponse:
        if not chunked:
            return web.Response(body=raw, content_type="application/json")
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for start in range(0, len(raw), 300_000):
            await resp.write(raw[start : start + 300_000])
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_post("/v1/images/generations", handler)
    async with TestServer(app, host="127.0.0.1") as server:
        client = UpstreamClient("openai")
        try:
            resp = await client.request("POST", str(server.make_url("/v1/images/generations")), json={})
        finally:
            await client.aclose()
    data, lifted = resp.json_lifting(b"b64_json")
    got = resolve(data["data"][0]["b64_json"], lifted)
    if chunked:
        assert isinstance(got, Slices) and len(got.parts) > 1 and bytes(got).decode() == value
        views = got.parts
    else:
        (buffer,) = resp._chunks  # one buffer of the declared length, read straight from the socket
        assert isinstance(buffer, bytearray) and len(buffer) == len(raw)
        assert isinstance(got, memoryview) and got.obj is buffer and bytes(got).decode() == value
        views = [got]
    data["data"][0]["b64_json"] = got
    parts = encode_answer(data)
    assert [p for p in parts if isinstance(p, memoryview)] == views  # the received bytes themselves go out
    assert orjson.loads(b"".join(bytes(p) for p in parts)) == answer
    assert resp.body == raw  # the joined body, on demand

"""The stream relay's binding rule and the upstream SSE reader, in process."""

from __future__ import annotations

import asyncio

import pytest

from imagegate.catalog.loader import load_catalog
from imagegate.core.errors import Unavailable
from imagegate.core.types import GeneratedImage, ImageResult
from imagegate.pricing import Pricer
from imagegate.providers.streaming import PartialImage, SseEvent, SsePart, iter_sse
from imagegate.streams import PartialRelay, StreamInterrupted


@pytest.fixture(scope="module")
def offer():  # type: ignore[no-untyped-def]
    model, _ = load_catalog([]).resolve("gpt-image-1")
    return model.offers[0]


def result() -> ImageResult:
    return ImageResult(images=[GeneratedImage("image/png", b64="aGk=")])


def partial(i: int = 0) -> PartialImage:
    return PartialImage(i, "aGk=", "image_generation.partial_image")


async def test_failure_before_a_partial_stays_retryable(offer) -> None:  # type: ignore[no-untyped-def]
    relay = PartialRelay()

    async def fails(_sink):  # type: ignore[no-untyped-def]
        raise Unavailable("down", provider="openai")

    with pytest.raises(Unavailable):
        await relay.attempt(0, offer, fails)
    assert relay.bound is None
    assert (await relay.attempt(1, offer, lambda _s: _ok())).images


async def _ok() -> ImageResult:
    return result()


async def test_failure_after_a_partial_is_final_and_later_attempts_refused(offer) -> None:  # type: ignore[no-untyped-def]
    relay = PartialRelay()

    async def partial_then_fail(sink):  # type: ignore[no-untyped-def]
        await sink.partial(partial())
        raise Unavailable("cut", provider="openai")

    with pytest.raises(StreamInterrupted) as info:
        await relay.attempt(0, offer, partial_then_fail)
    assert not info.value.retryable and "1 partial image" in info.value.message
    assert info.value.gateway_error().status == 502
    assert info.value.provider_failed  # the bound provider failed: the router counts it against its health
    assert [e.kind for e in relay.pending] == ["partial"]
    with pytest.raises(StreamInterrupted) as later:
        await relay.attempt(1, offer, lambda _s: _ok())
    assert not later.value.provider_failed  # refused because of the binding: not this provider's fault


async def test_a_hedge_that_finishes_first_is_held_and_its_partials_dropped(offer) -> None:  # type: ignore[no-untyped-def]
    relay = PartialRelay()
    bound_sent = asyncio.Event()
    release = asyncio.Event()

    async def primary(sink):  # type: ignore[no-untyped-def]
        await sink.partial(partial(0))
        bound_sent.set()
        await release.wait()
        return result()

    async def hedge(sink):  # type: ignore[no-untyped-def]
        await bound_sent.wait()
        await sink.partial(partial(0))  # dropped: the stream belongs to the primary
        return result()

    primary_task = asyncio.ensure_future(relay.attempt(0, offer, primary))
    hedge_task = asyncio.ensure_future(relay.attempt(1, offer, hedge))
    await bound_sent.wait()
    await asyncio.sleep(0)  # let the hedge run to its finish line
    await asyncio.sleep(0)
    assert not hedge_task.done()  # held: the router settles the race in the bound attempt's favour
    release.set()
    assert (await primary_task).images
    hedge_task.cancel()
    assert len(relay.pending) == 1 and relay.partials_sent == 1


async def test_on_cancel_prices_the_partials_sent(offer) -> None:  # type: ignore[no-untyped-def]
    relay = PartialRelay()
    started = asyncio.Event()

    async def slow(sink):  # type: ignore[no-untyped-def]
        await sink.partial(partial())
        await sink.partial(partial(1))
        started.set()
        await asyncio.Event().wait()

    task = asyncio.ensure_future(relay.attempt(0, offer, slow))
    await started.wait()
    task.cancel()
    bound, cost, attempts = relay.on_cancel(Pricer())
    assert bound is offer and cost == 2 * 100 * 40  # 200 output image tokens at $40 per million
    assert [a.outcome for a in attempts] == ["cancelled"] and attempts[0].cost_micros == cost


class _Reader:
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    async def iter_any(self):  # type: ignore[no-untyped-def]
        for c in self.chunks:
            yield c


async def test_iter_sse_splits_events_across_chunks_and_long_lines() -> None:
    big = b"A" * 300_000  # longer than aiohttp's readline limit
    body = (b": comment\n\nevent: one\ndata: {\"b64_json\":\"" + big + b"\"}\n\n"
            b"event: two\r\ndata: a\r\ndata: b\r\n\r\ndata: tail")  # fmt: skip
    chunks = [body[i : i + 7000] for i in range(0, len(body), 7000)]
    events = [(e.event, bytes(e.data)) for e in [x async for x in iter_sse(_Reader(chunks), 10**7)]]  # type: ignore[arg-type]
    assert events == [("one", b'{"b64_json":"' + big + b'"}'), ("two", b"a\nb"), (None, b"tail")]


async def test_iter_sse_caps_an_event() -> None:
    with pytest.raises(ValueError):
        [x async for x in iter_sse(_Reader([b"data: " + b"x" * 5000]), 1000)]  # type: ignore[arg-type]


async def test_iter_sse_passes_a_partial_image_through_while_it_arrives() -> None:
    big = b'{"type":"image_generation.partial_image","b64_json":"' + b"B" * 50_000 + b'","partial_image_index":0}'
    body = (
        b"event: image_generation.partial_image\ndata: " + big + b"\n\nevent: image_generation.completed\ndata: {}\n\n"
    )
    chunks = [body[i : i + 4096] for i in range(0, len(body), 4096)]
    items = [x async for x in iter_sse(_Reader(chunks), 10**6, pass_through=(".partial_image",))]  # type: ignore[arg-type]
    parts = [x for x in items if isinstance(x, SsePart)]
    assert len(parts) > 5 and parts[0].first and parts[-1].last and not any(p.last for p in parts[:-1])
    assert {p.event for p in parts} == {"image_generation.partial_image"}
    assert b"".join(p.data for p in parts) == big  # verbatim, in pieces
    assert [(e.event, e.data) for e in items if isinstance(e, SseEvent)] == [("image_generation.completed", b"{}")]


async def test_iter_sse_pass_through_keeps_a_split_crlf_out_of_the_data() -> None:
    body = b"event: a.partial_image\r\ndata: " + b"x" * 100 + b"\r\n\r\n"
    chunks = [body[:60], body[60 : len(body) - 3], body[len(body) - 3 :]]  # the "\r" of "\r\n" ends a chunk
    parts = [x async for x in iter_sse(_Reader(chunks), 10**6, pass_through=(".partial_image",))]  # type: ignore[arg-type]
    assert b"".join(p.data for p in parts) == b"x" * 100  # type: ignore[union-attr]
    assert parts[-1].last  # type: ignore[union-attr]


async def test_parts_follow_the_binding(offer) -> None:  # type: ignore[no-untyped-def]
    relay = PartialRelay()
    a, b = _sink(relay, 0, offer), _sink(relay, 1, offer)
    await a.partial_part("image_generation.partial_image", b"{", True, False)
    await b.partial_part("image_generation.partial_image", b"{x}", True, True)  # not the bound attempt: dropped
    await a.partial_part("image_generation.partial_image", b"}", False, True)
    assert [(e.kind, e.data, e.first, e.last) for e in relay.pending] == [("part", b"{", True, False),
                                                                         ("part", b"}", False, True)]  # fmt: skip
    assert relay.bound == 0 and relay.partials_sent == 1


def _sink(relay: PartialRelay, index: int, offer):  # type: ignore[no-untyped-def]
    from imagegate.streams import _AttemptSink

    return _AttemptSink(relay, index, offer)

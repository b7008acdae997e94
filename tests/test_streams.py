"""The stream relay's binding rule and the upstream SSE reader, in process."""

from __future__ import annotations

import asyncio

import pytest

from imagegate.catalog.loader import load_catalog
from imagegate.core.errors import Unavailable
from imagegate.core.types import GeneratedImage, ImageResult
from imagegate.pricing import Pricer
from imagegate.providers.streaming import PartialImage, iter_sse
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
    assert [e.kind for e in relay.pending] == ["partial"]
    with pytest.raises(StreamInterrupted):
        await relay.attempt(1, offer, lambda _s: _ok())


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

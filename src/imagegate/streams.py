"""One streamed request's relay: partial images from the attempts to the client, and the binding rule.

The router fails over freely until the first partial image goes out; from then on the request is bound to the
attempt that sent it:
- that attempt's retryable failure becomes ``StreamInterrupted`` (not retryable: the router stops and the client
  gets an ``error`` event);
- an attempt started once the bound one has ended (a failover after it timed out) fails at once the same way;
- any other attempt (a hedge) is held back, never finishing, until the router settles the race, so the completed
  image always comes from the provider whose partials the client saw.

The API layer reads ``pending`` (partial images and progress notes) while the pipeline runs.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from imagegate.core.errors import GatewayError, ProviderError
from imagegate.core.types import Attempt, ImageResult, Usage
from imagegate.providers.streaming import PartialImage

if TYPE_CHECKING:
    from imagegate.catalog.schema import Offer
    from imagegate.pricing import Pricer

# OpenAI bills each partial image as 100 extra output image tokens (its image-generation guide).
PARTIAL_IMAGE_TOKENS = 100


class StreamInterrupted(ProviderError):
    """The provider a stream is bound to failed after partial images went out: no failover any more."""

    retryable = False

    def __init__(self, message: str, *, provider_failed: bool = False, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.provider_failed = provider_failed  # the bound provider failed (a health penalty), or only the binding

    def gateway_error(self) -> GatewayError:
        return GatewayError(self.message, status=502, code="STREAM_INTERRUPTED")


@dataclass(slots=True)
class StreamEvent:
    kind: Literal["partial", "part", "progress"]
    image: PartialImage | None = None
    text: str = ""  # progress: the note; part: the event type
    data: bytes = b""  # part: a piece of the event's data JSON
    first: bool = False
    last: bool = False


@dataclass(slots=True)
class _Started:
    offer: Offer
    started_wall: float
    started: float


class PartialRelay:
    """Shared by every attempt of one streamed request (single event loop, no locks needed)."""

    def __init__(self) -> None:
        self.pending: deque[StreamEvent] = deque()  # read by the API layer; ``wakeup`` is set on each push
        self.wakeup = asyncio.Event()
        self.bound: int | None = None  # the attempt index the request is bound to
        self.bound_offer: Offer | None = None
        self.partials_sent = 0
        self._bound_over = False  # the bound attempt has ended (succeeded, failed or was cancelled)
        self._started: dict[int, _Started] = {}

    async def attempt(
        self, index: int, offer: Offer, call: Callable[[_AttemptSink], Awaitable[ImageResult]]
    ) -> ImageResult:
        """Run one routed attempt under the binding rule."""
        if self.bound is not None and self.bound != index:
            if self._bound_over:
                raise StreamInterrupted(self._bound_message(), provider=offer.provider)
            await self._hold()  # a hedge started after the binding: the bound attempt decides
        self._started[index] = _Started(offer, time.time(), time.perf_counter())
        try:
            result = await call(_AttemptSink(self, index, offer))
        except ProviderError as exc:
            if self.bound == index and exc.retryable:
                raise StreamInterrupted(
                    f"{exc.message} (after {self.partials_sent} partial image(s) were sent)",
                    provider=exc.provider, status=exc.status, reason=exc.reason, provider_failed=True,
                ) from exc  # fmt: skip
            raise
        finally:
            if self.bound == index:
                self._bound_over = True
        if self.bound is None:
            self._bind(index, offer)
            self._bound_over = True
        elif self.bound != index:
            await self._hold()
        return result

    @staticmethod
    async def _hold() -> None:
        """Wait until the router cancels this attempt (it settles the race once the bound attempt is done)."""
        await asyncio.get_running_loop().create_future()

    def push(self, event: StreamEvent) -> None:
        self.pending.append(event)
        self.wakeup.set()

    def _bind(self, index: int, offer: Offer) -> None:
        self.bound, self.bound_offer = index, offer

    def _bound_message(self) -> str:
        who = self.bound_offer.provider if self.bound_offer is not None else "a provider"
        return f"the stream was bound to {who} after {self.partials_sent} partial image(s), and {who} failed"

    def on_cancel(self, pricer: Pricer) -> tuple[Offer | None, int, list[Attempt]]:
        """The client went away: the bound offer, what the partial images already sent cost there, and the
        attempts that were running (recorded as cancelled)."""
        now = time.perf_counter()
        attempts = [
            Attempt(s.offer.provider, s.offer.provider_model_id, "cancelled", (now - s.started) * 1000,
                    started_at=s.started_wall)
            for _i, s in sorted(self._started.items())
        ]  # fmt: skip
        cost = 0
        if self.bound_offer is not None and self.partials_sent:
            usage = Usage(output_image_tokens=PARTIAL_IMAGE_TOKENS * self.partials_sent, reported=True)
            cost = pricer.cost(usage, self.bound_offer, resolution=None).total_micros
            for a in attempts:
                if a.provider == self.bound_offer.provider:
                    a.cost_micros = cost
                    break
        return self.bound_offer, cost, attempts


class _AttemptSink:
    """The ``PartialSink`` of one attempt."""

    __slots__ = ("relay", "index", "offer", "forwarding")

    def __init__(self, relay: PartialRelay, index: int, offer: Offer) -> None:
        self.relay, self.index, self.offer = relay, index, offer
        self.forwarding = False  # the event whose parts are arriving belongs to the stream

    async def partial(self, image: PartialImage) -> None:
        relay = self.relay
        if relay.bound is None:
            relay._bind(self.index, self.offer)
        if relay.bound != self.index:
            return  # another attempt owns the stream
        relay.partials_sent += 1
        relay.push(StreamEvent("partial", image=image))

    async def partial_part(self, kind: str, data: bytes, first: bool, last: bool) -> None:
        relay = self.relay
        if first:
            if relay.bound is None:
                relay._bind(self.index, self.offer)
            self.forwarding = relay.bound == self.index
            relay.partials_sent += self.forwarding
        if self.forwarding:
            relay.push(StreamEvent("part", text=kind, data=data, first=first, last=last))

    def progress(self, text: str) -> None:
        if self.relay.bound in (None, self.index):
            self.relay.push(StreamEvent("progress", text=text))

"""The provider seam: as small as httpx's transport interface.

An adapter turns one ``ProviderCall`` into one upstream call (or an asynchronous flow such as
Replicate's polling) and returns an ``ImageResult`` or raises a typed ``ProviderError``
(``imagegate.core.errors``). It never imports the router or the API.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from imagegate.catalog.schema import Offer
from imagegate.core.types import ImageRequest, ImageResult, RenderSpec
from imagegate.providers.streaming import PartialSink


@dataclass(slots=True)
class ProviderCall:
    request: ImageRequest
    offer: Offer
    spec: RenderSpec
    n: int  # images asked of this one upstream call (<= offer.capabilities.max_n)
    # when the router will cancel this call, on ``clock`` (the router's). The router enforces it; an adapter
    # reads it only to tell the provider (Replicate's ``Prefer: wait`` / ``Cancel-After``) or to skip a step
    deadline: float
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    partials: PartialSink | None = None  # set when the client streams: partial images and progress go here

    def remaining(self) -> float:
        return max(0.0, self.deadline - self.clock())


@runtime_checkable
class Provider(Protocol):
    name: str

    async def generate(self, call: ProviderCall) -> ImageResult:
        """Run one call. Raise ``imagegate.core.errors.ProviderError`` subclasses on failure."""
        ...

    async def aclose(self) -> None:
        """Release pooled connections."""
        ...

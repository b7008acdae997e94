"""Time as the router sees it: a monotonic ``now()`` for deadlines, a ``wall()`` for shared state, ``sleep`` and
``timeout`` (the one way an attempt's time limit is enforced).

``SystemClock`` is ``time.monotonic`` / ``time.time`` / ``asyncio.sleep`` / ``asyncio.timeout``. Tests drive the
same code with ``imagegate.testing.clock.FakeClock``, which implements this protocol.
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds, comparable with the pipeline's deadlines."""
        ...

    def wall(self) -> float:
        """Unix seconds: the time base of state shared between processes (windows, breakers, pauses)."""
        ...

    async def sleep(self, seconds: float) -> None: ...

    def timeout(self, seconds: float) -> TimeLimitScope:
        """An async context manager that cancels the block after ``seconds`` (then raises ``TimeoutError``)."""
        ...


class TimeLimitScope(Protocol):
    """What ``Clock.timeout`` returns: ``asyncio.Timeout``'s shape."""

    async def __aenter__(self) -> Any: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc_val: BaseException | None, exc_tb: TracebackType | None
    ) -> Any: ...

    def expired(self) -> bool: ...


class SystemClock:
    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def timeout(self, seconds: float) -> asyncio.Timeout:
        return asyncio.timeout(max(0.0, seconds))

"""Time as the router sees it: a monotonic ``now()`` for deadlines, a ``wall()`` for shared state, ``sleep``.

``SystemClock`` is ``time.monotonic`` / ``time.time`` / ``asyncio.sleep``. ``FakeClock`` makes tests
deterministic: time only moves when a test calls ``advance`` or, with ``autojump`` (the default), when every
task is waiting on the clock — it then jumps straight to the earliest sleeper, like trio's autojump clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds, comparable with the pipeline's deadlines."""
        ...

    def wall(self) -> float:
        """Unix seconds: the time base of state shared between processes (windows, breakers, pauses)."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """A clock under test control. ``sleep`` never waits in real time.

    With ``autojump`` a driver task lets the event loop settle (``settle`` consecutive idle passes in which
    no sleeper was added or woken) and then wakes the earliest sleeper, moving time to its due time.
    Pure-coroutine tests therefore run the same way every time, in zero real time.
    """

    def __init__(
        self, start: float = 1000.0, wall_start: float = 1_700_000_000.0, *, autojump: bool = True, settle: int = 40
    ) -> None:
        self._now = start
        self._wall_offset = wall_start - start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0
        self._changes = 0
        self._autojump = autojump
        self._settle = settle
        self._driver: asyncio.Task[None] | None = None

    def now(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._wall_offset + self._now

    def advance(self, seconds: float) -> None:
        """Move time forward, waking (in due order) every sleeper whose time has come."""
        target = self._now + max(0.0, seconds)
        while self._sleepers and self._sleepers[0][0] <= target:
            due, _, fut = heapq.heappop(self._sleepers)
            self._now = max(self._now, due)
            if not fut.done():
                fut.set_result(None)
                self._changes += 1
        self._now = target

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        heapq.heappush(self._sleepers, (self._now + seconds, self._seq, fut))
        self._changes += 1
        if self._autojump and (self._driver is None or self._driver.done()):
            self._driver = asyncio.get_running_loop().create_task(self._drive(), name="fake-clock-autojump")
        await fut

    @property
    def sleepers(self) -> int:
        return sum(1 for _, _, f in self._sleepers if not f.done())

    async def _drive(self) -> None:
        while True:
            stable, last = 0, self._changes
            while stable < self._settle:
                await asyncio.sleep(0)
                if self._changes != last:
                    stable, last = 0, self._changes
                else:
                    stable += 1
            while self._sleepers and self._sleepers[0][2].done():
                heapq.heappop(self._sleepers)
            if not self._sleepers:
                return
            due, _, fut = heapq.heappop(self._sleepers)
            self._now = max(self._now, due)
            fut.set_result(None)
            self._changes += 1

    async def aclose(self) -> None:
        """Stop the autojump driver (tests call this on teardown)."""
        if self._driver is not None and not self._driver.done():
            self._driver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._driver

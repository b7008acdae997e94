"""``FakeClock``: the router's ``Clock`` under test control, in zero real time.

Time only moves when a test calls ``advance`` or, with ``autojump`` (the default), when every task is waiting on
the clock: it then jumps straight to the earliest sleeper (or time limit), like trio's autojump clock. The router
runs exactly the code it runs in production on it: ``sleep`` and ``timeout`` are the only seams.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
from types import TracebackType

__all__ = ["FakeClock"]


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

    def _add_sleeper(self, seconds: float) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        heapq.heappush(self._sleepers, (self._now + seconds, self._seq, fut))
        self._changes += 1
        if self._autojump and (self._driver is None or self._driver.done()):
            self._driver = asyncio.get_running_loop().create_task(self._drive(), name="fake-clock-autojump")
        return fut

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        await self._add_sleeper(seconds)

    def timeout(self, seconds: float) -> _FakeTimeout:
        return _FakeTimeout(self, seconds)

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


class _FakeTimeout:
    """``asyncio.timeout`` whose expiry is a sleeper on the fake clock: when the clock reaches it, the inner
    ``asyncio.Timeout`` is rescheduled to fire at once (same cancellation and ``TimeoutError`` semantics)."""

    def __init__(self, clock: FakeClock, seconds: float) -> None:
        self._clock = clock
        self._seconds = max(0.0, seconds)
        self._inner = asyncio.timeout(None)
        self._due: asyncio.Future[None] | None = None

    async def __aenter__(self) -> _FakeTimeout:
        await self._inner.__aenter__()
        inner = self._inner
        if self._seconds <= 0:
            inner.reschedule(asyncio.get_running_loop().time())
            return self

        def fire(fut: asyncio.Future[None]) -> None:
            if not fut.cancelled() and inner.when() is None:
                inner.reschedule(asyncio.get_running_loop().time())

        self._due = self._clock._add_sleeper(self._seconds)
        self._due.add_done_callback(fire)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._due is not None and not self._due.done():
            self._due.cancel()
        await self._inner.__aexit__(exc_type, exc, tb)

    def expired(self) -> bool:
        return self._inner.expired()

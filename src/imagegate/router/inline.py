"""Running an attempt inline: awaited in the request's own task instead of a task of its own.

Without hedging at most one attempt is ever in flight, so there is nothing to race: the loop awaits the attempt
directly under the clock's ``timeout`` (``asyncio.timeout`` on the system clock: one timer handle) instead of
starting a task and ``asyncio.wait``-ing on it and on a timer task. The outcome is put in a plain future, which the
attempt loop then treats as it treats a task. The same code runs on a test's ``FakeClock``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from imagegate.router.clock import TimeLimitScope

T = TypeVar("T")


async def run_inline(attempt: Awaitable[T], outcome: asyncio.Future[T], cm: TimeLimitScope) -> None:
    """Await ``attempt`` within ``cm`` (``Clock.timeout``) and settle ``outcome`` as a task running it would be:
    its result, its exception, or cancelled when the attempt cancelled itself.

    When the time runs out, ``outcome`` stays pending, whatever the attempt did when cancelled: the attempt loop's
    timer path then cancels it and records a Timeout, as it does for a task it cancels. A cancellation of the
    request itself propagates (the loop's cleanup then records the attempt as cancelled).
    """
    try:
        async with cm:
            result = await attempt
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # the request is being cancelled
        outcome.cancel()  # the attempt raised CancelledError of its own accord
        return
    except Exception as exc:
        if not cm.expired():  # a TimeoutError of the attempt's own included
            outcome.set_exception(exc)
        return
    if not cm.expired():  # an attempt that swallowed its cancellation still ran out of time
        outcome.set_result(result)


def close(attempt: Awaitable[object] | None) -> None:
    """Close an attempt that was never awaited (its time was up before it started), as cancelling a task that
    never ran does, without a "never awaited" warning."""
    closer = getattr(attempt, "close", None)
    if closer is not None:
        closer()

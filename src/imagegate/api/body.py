"""The request body, read with its size cap enforced while it streams (JSON bodies and multipart forms alike)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from imagegate.core.errors import PayloadTooLarge


async def capped(stream: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    """The chunks of ``stream``; ``PayloadTooLarge`` as soon as more than ``limit`` bytes arrived."""
    total = 0
    async for chunk in stream:
        total += len(chunk)
        if total > limit:
            raise PayloadTooLarge(f"Request body too large: the limit is {limit} bytes.")
        yield chunk

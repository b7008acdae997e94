"""ImageDecoder: a per-request pixel budget checked from headers before any decode, and a bound on decodes at once."""

from __future__ import annotations

import asyncio
import threading

import pytest

from imagegate.core.errors import InvalidRequest
from imagegate.core.types import InputImage
from imagegate.media.decode import ImageDecoder, Upload, declared_pixels
from tests.contract.test_bad_input_contract import _bomb_png
from tests.contract.test_images_contract import png


class CountingInspect:
    """Stands in for ``inspect_image``: records how many decodes run at once, and blocks until released."""

    def __init__(self) -> None:
        self.calls = 0
        self.running = 0
        self.peak = 0
        self.release = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, data: bytes, *, max_pixels: int, filename: str | None, field: str) -> InputImage:
        with self._lock:
            self.calls += 1
            self.running += 1
            self.peak = max(self.peak, self.running)
        self.release.wait(10)
        with self._lock:
            self.running -= 1
        return InputImage(data=data, mime_type="image/png", width=8, height=8, filename=filename)


def test_declared_pixels_reads_the_header_only() -> None:
    assert declared_pixels(_bomb_png(8000, 7999)) == 8000 * 7999
    assert declared_pixels(b"not an image") == 0


async def test_a_request_over_the_pixel_budget_decodes_nothing() -> None:
    inspect = CountingInspect()
    decoder = ImageDecoder(max_request_pixels=100_000_000, inspect=inspect)
    uploads = [Upload(_bomb_png(8000, 7999), f"{i}.png", "image") for i in range(14)]
    with pytest.raises(InvalidRequest) as exc:
        await decoder.decode_all(uploads)
    assert exc.value.param == "image"
    assert "895,888,000 pixels" in exc.value.message
    assert inspect.calls == 0


async def test_decodes_run_at_most_max_concurrent_at_once_across_requests() -> None:
    inspect = CountingInspect()
    decoder = ImageDecoder(max_concurrent=2, inspect=inspect)
    uploads = [Upload(png(8, 8), f"{i}.png", "image") for i in range(14)]
    tasks = [asyncio.create_task(decoder.decode_all(uploads)) for _ in range(3)]
    while inspect.running < 2:  # event-driven: each check yields to the loop and the threads
        await asyncio.sleep(0)
    # Other requests' thread work (key look-ups, blob writes, the request log) is not starved: with 42 decodes
    # blocked, the default executor (at most 32 threads) still has free threads. Without the bound it would not.
    assert await asyncio.wait_for(asyncio.to_thread(lambda: 42), timeout=10) == 42
    inspect.release.set()
    results = await asyncio.gather(*tasks)
    assert [len(r) for r in results] == [14, 14, 14]
    assert inspect.peak == 2
    assert inspect.calls == 42

"""CPU cost of observing one finished request in the Prometheus metrics.

.venv/bin/python bench/hotpath/metrics.py [-n 20000]
"""

from __future__ import annotations

import argparse
import time

from imagegate.core.types import Attempt
from imagegate.telemetry.metrics import Metrics
from imagegate.telemetry.recorder import RequestRecord


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("-n", type=int, default=20_000)
    n = p.parse_args().n
    metrics = Metrics()
    rec = RequestRecord(
        id="req",
        created_at=time.time(),
        model="nano-banana-pro",
        operation="generate",
        status=200,
        latency_ms=12.0,
        model_id="gemini-3-pro-image-preview",
        provider="gemini",
        cost_micros=134_400,
        image_count=1,
        image_bytes=2_000,
        attempts=[
            Attempt(
                provider="gemini",
                provider_model_id="gemini-3-pro-image-preview",
                outcome="success",
                latency_ms=10.0,
                ttfb_ms=5.0,
            )
        ],
    )
    start = time.process_time()
    for _ in range(n):
        metrics.observe(rec)
    print(f"Metrics.observe: {(time.process_time() - start) / n * 1e6:.1f} us per request ({n} requests, 1 attempt)")


if __name__ == "__main__":
    main()

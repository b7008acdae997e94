"""Prometheus metrics, one registry per gateway (no module-level state), exported at ``GET /metrics``.

Observed once per finished request from the same record the request log gets, so the hot path pays a few
counter increments and histogram observations (microseconds), never I/O. With several workers each process
writes its series to files in ``PROMETHEUS_MULTIPROC_DIR`` and every scrape sums them (``api/serving.py``).
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

from imagegate.telemetry.recorder import RequestRecord

# Image generation takes seconds to minutes; gateway-only errors take microseconds.
_BUCKETS = (0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300)

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._children: dict[tuple, object] = {}
        r = self.registry
        self.requests = Counter(
            "imagegate_requests", "Finished API requests.", ["model", "provider", "status"], registry=r
        )
        self.request_seconds = Histogram(
            "imagegate_request_duration_seconds",
            "End-to-end request latency.",
            ["model", "provider"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.attempts = Counter(
            "imagegate_attempts", "Upstream attempts by outcome.", ["model", "provider", "outcome"], registry=r
        )
        self.attempt_seconds = Histogram(
            "imagegate_attempt_duration_seconds",
            "Upstream generation time of successful attempts.",
            ["model", "provider"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.ttfb_seconds = Histogram(
            "imagegate_attempt_ttfb_seconds",
            "Time to first byte of successful attempts.",
            ["model", "provider"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.cost_micros = Counter(
            "imagegate_cost_micros", "Cost charged, in micro-USD.", ["model", "provider"], registry=r
        )
        self.images = Counter("imagegate_images", "Images returned.", ["model", "provider"], registry=r)
        self.image_bytes = Counter("imagegate_image_bytes", "Image bytes returned.", ["model", "provider"], registry=r)

    def _child(self, metric, *labels: str):  # type: ignore[no-untyped-def]
        """``metric.labels(*labels)``, memoised: label lookups take a lock and dominate the cost."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def observe(self, rec: RequestRecord) -> None:
        model = rec.model_id or "unknown"
        provider = rec.provider or "none"
        child = self._child
        child(self.requests, model, provider, str(rec.status)).inc()
        child(self.request_seconds, model, provider).observe(rec.latency_ms / 1000)
        if rec.cost_micros:
            child(self.cost_micros, model, provider).inc(rec.cost_micros)
        if rec.image_count:
            child(self.images, model, provider).inc(rec.image_count)
            child(self.image_bytes, model, provider).inc(rec.image_bytes)
        for a in rec.attempts:
            child(self.attempts, model, a.provider, a.outcome).inc()
            if a.outcome == "success":
                child(self.attempt_seconds, model, a.provider).observe(a.latency_ms / 1000)
                if a.ttfb_ms is not None:
                    child(self.ttfb_seconds, model, a.provider).observe(a.ttfb_ms / 1000)

    def render(self) -> bytes:
        """This process's series; with several workers (prometheus-client's multiprocess mode, set up by
        ``imagegate serve``), every worker's, summed."""
        path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if not path:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=path)
        return generate_latest(registry)

"""One benchmark run per routing system: imagegate (auto, auto + hedging, one provider forced) and LiteLLM's Router.

Every run gets a fresh fake fleet (same scenario, same seed), a fresh gateway or Router and a fresh database,
so no state leaks between runs. The fakes' fault clocks are reset right before the load starts.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from procs import FakesHost, LiteLLMDriver

from imagegate.testing.profiles import time_scaled_routing
from imagegate.testing.server import GatewayProcess

MODEL = "gemini-3-pro-image-preview"
SINGLES = ("gemini", "vertex", "fal", "replicate")
LITELLM = {"litellm-simple-shuffle": "simple-shuffle", "litellm-latency-based": "latency-based-routing"}
IMAGEGATE = (
    "imagegate-auto",
    "imagegate-auto-hedging",
    "imagegate-auto-hedging-s20",
    "imagegate-auto-hedging-q50",
    "imagegate-auto-nopause",
)
SYSTEMS = (*SINGLES, *LITELLM, *IMAGEGATE)
REQUEST_TIMEOUT_S = 300.0  # real seconds, every system: the gateway's default per-request deadline
ATTEMPT_TIMEOUT_S = 120.0  # real seconds: one attempt's limit until the router has measured the offer
CLIENT_TRIES = 3  # single-provider baselines: the client retries, up to 3 tries in all


@dataclass
class RunSpec:
    scenario: str
    requests: int
    concurrency: int
    time_scale: float
    seed: int
    run_s: float  # expected real length, for the scenario's outage windows
    workdir: Path
    litellm_python: str


def routing_for(system: str, spec: RunSpec) -> dict[str, Any]:
    """The gateway's ``routing:`` section (real seconds; scaled before it is written)."""
    routing: dict[str, Any] = {"attempt_timeout": {"cold_s": ATTEMPT_TIMEOUT_S}}
    if system in SINGLES:
        routing["retry"] = {"max_attempts_per_offer": 1}  # the client retries, not the gateway
    if system == "imagegate-auto-hedging":
        routing["hedging"] = {"enabled": True}  # the defaults: at the offer's p90, at most 10 % of requests
    if system == "imagegate-auto-hedging-s20":
        routing["hedging"] = {"enabled": True, "max_share": 0.2}  # at p90 as by default, up to 20 % of requests
    if system == "imagegate-auto-hedging-q50":
        routing["hedging"] = {"enabled": True, "quantile": 0.5, "max_share": 0.5}  # tuned: early and often
    if system == "imagegate-auto-nopause":
        routing["retry"] = {"max_retry_after_s": 0}  # a 429's Retry-After does not pause the whole provider
    return routing


def gateway_config(system: str, spec: RunSpec) -> dict[str, Any]:
    return {
        "placeholder": "off",
        "request_timeout_s": REQUEST_TIMEOUT_S * spec.time_scale,
        "routing": time_scaled_routing(routing_for(system, spec), spec.time_scale),
        "providers": {name: {"poll_scale": spec.time_scale} for name in ("fal", "replicate")},
    }


# ---------------------------------------------------------------------- imagegate


async def _load(url: str, model: str, spec: RunSpec, tries: int) -> tuple[list[dict[str, Any]], float]:
    """Closed loop: ``concurrency`` workers, ``requests`` logical requests, each up to ``tries`` HTTP calls."""
    scale = spec.time_scale
    rng = random.Random(spec.seed)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(spec.requests):
        queue.put_nowait(i)
    records: list[dict[str, Any]] = []
    timeout = httpx.Timeout(REQUEST_TIMEOUT_S * scale + 5.0, connect=5.0)
    limits = httpx.Limits(max_connections=spec.concurrency * 2, max_keepalive_connections=spec.concurrency * 2)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:

        async def one(i: int) -> dict[str, Any]:
            body = {"model": model, "prompt": f"a red fox in snow #{i}", "size": "1024x1024",
                    "response_format": "b64_json"}  # fmt: skip
            start = time.perf_counter()
            calls: list[dict[str, Any]] = []
            ok = False
            for k in range(tries):
                if k:  # client back-off, exponential with jitter from 0.5 s (real), scaled
                    await asyncio.sleep(rng.uniform(0, 0.5 * 2 ** (k - 1)) * scale)
                try:
                    r = await client.post("/v1/images/generations", json=body)
                    status, rid = r.status_code, r.headers.get("x-imagegate-request-id")
                    meta = r.json().get("metadata", {}) if status == 200 else {}
                    calls.append({"status": status, "request_id": rid, "provider": meta.get("provider")})
                except httpx.HTTPError as exc:
                    calls.append({"status": None, "error": type(exc).__name__})
                    status = None
                if status == 200:
                    ok = True
                    break
                if status is not None and status < 500 and status != 429:
                    break  # a refusal: retrying will not help
            latency = time.perf_counter() - start
            return {"i": i, "ok": ok, "latency_s": latency, "calls": calls,
                    "provider": calls[-1].get("provider") if ok else None}  # fmt: skip

        async def worker() -> None:
            while not queue.empty():
                records.append(await one(queue.get_nowait()))

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(spec.concurrency)))
        return records, time.perf_counter() - t0


def _db_attempts(db: Path) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        for row in conn.execute("SELECT request_id, provider, outcome, status, latency_ms, cost_micros, hedged "
                                "FROM attempts ORDER BY id"):  # fmt: skip
            out.setdefault(row["request_id"], []).append(dict(row))
    return out


def run_imagegate(system: str, spec: RunSpec) -> dict[str, Any]:
    work = spec.workdir / system
    work.mkdir(parents=True, exist_ok=True)
    cfg_path = work / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(gateway_config(system, spec), sort_keys=False))
    host = FakesHost("fleet", spec.scenario, spec.time_scale, spec.seed, spec.run_s, work / "fleet")
    gateway = None
    try:
        gateway = GatewayProcess(work / "data", host.hello["env"], cfg_path, log_path=work / "gateway.log")
        gateway.wait_ready(timeout=60.0)
        host.reset()
        single = system in SINGLES
        model = f"{system}/{MODEL}" if single else MODEL
        records, wall = asyncio.run(_load(gateway.url, model, spec, CLIENT_TRIES if single else 1))
        counts = host.counts()
    finally:
        if gateway is not None:
            gateway.stop()
        host.stop()
    attempts = _db_attempts(work / "data" / "imagegate.db")
    for rec in records:
        rec["attempts"] = [a for c in rec["calls"] for a in attempts.get(c.get("request_id") or "", [])]
    return {"system": system, "wall_s": wall, "fake_counts": counts, "records": records,
            "config": gateway_config(system, spec)}  # fmt: skip


# ---------------------------------------------------------------------- LiteLLM


def run_litellm(system: str, spec: RunSpec) -> dict[str, Any]:
    work = spec.workdir / system
    work.mkdir(parents=True, exist_ok=True)
    host = FakesHost("openai", spec.scenario, spec.time_scale, spec.seed, spec.run_s, work / "fleet")
    try:
        out = work / "records.json"
        cfg = {
            "urls": host.hello["urls"], "api_key": host.hello["api_key"], "strategy": LITELLM[system],
            "requests": spec.requests, "concurrency": spec.concurrency, "time_scale": spec.time_scale,
            "attempt_timeout_s": ATTEMPT_TIMEOUT_S * spec.time_scale,
            "request_timeout_s": REQUEST_TIMEOUT_S * spec.time_scale,
            "num_retries": 3, "cooldown_s": 5.0 * spec.time_scale, "out": str(out),
        }  # fmt: skip
        driver = LiteLLMDriver(spec.litellm_python, cfg, work, spec.time_scale)
        host.reset()
        driver.go_and_wait(timeout=max(600.0, spec.run_s * spec.time_scale * 10))
        counts = host.counts()
    finally:
        host.stop()
    data = json.loads(out.read_text())
    return {"system": system, "wall_s": data["wall_s"], "fake_counts": counts, "records": data["records"],
            "config": {k: v for k, v in cfg.items() if k not in ("urls", "api_key", "out")}}  # fmt: skip


def run_system(system: str, spec: RunSpec) -> dict[str, Any]:
    if system in LITELLM:
        return run_litellm(system, spec)
    return run_imagegate(system, spec)

"""``imagegate demo``: the gateway in front of a simulated fleet with the seed's measured provider figures.

Fake Gemini API, Vertex AI, fal.ai and Replicate servers run on loopback ports with the latencies and failure
rates the seed's model page reports (``imagegate.testing.profiles``), time-compressed so a 20 s generation takes
a second. ``imagegate serve`` starts in front of them (a child process, no real provider is ever called), a few
clients send a steady stream of requests, and the terminal shows each answer (provider, failovers, latency)
and, every few seconds, the per-provider figures the gateway measured (``GET /v1/models/{id}/providers``).
Every time shown is scaled back to real seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

from imagegate.testing.fleet import Fleet, ThreadedFleet
from imagegate.testing.profiles import SEED_FIGURES, scenario_profiles, time_scaled_routing
from imagegate.testing.server import GatewayProcess, free_port

MODEL = "gemini-3-pro-image-preview"
PROVIDERS = ("gemini", "vertex", "replicate", "fal")
REFRESH_S = 5.0  # wall seconds between two figure tables
# On the seed's figures Gemini is best on every axis, so a router that works sends it nearly everything (~99 %)
# and the others only see failovers. Real accounts also have quotas: in the demo Gemini's runs out in bursts
# (429 with Retry-After for 15 s every minute, the routing benchmark's "bursts" scenario), and the router moves
# the traffic to the next best offers while it is paused: routing across providers, as it happens in production.
SCENARIO = "bursts"
DEMO_RUN_S = 3600.0  # real seconds of burst windows laid out ahead (the demo may run until Ctrl-C)
Echo = Callable[[str], None]


def _echo(line: str) -> None:
    print(line, flush=True)


def demo_config(time_scale: float) -> dict[str, Any]:
    """The gateway's settings for the demo: router durations scaled like the fleet, hedging on."""
    routing = {"attempt_timeout": {"cold_s": 120.0}, "hedging": {"enabled": True}}
    return {
        "placeholder": "off",
        "request_timeout_s": 300.0 * time_scale,
        "routing": time_scaled_routing(routing, time_scale),
        "providers": {name: {"poll_scale": time_scale} for name in ("fal", "replicate")},
    }


def header(time_scale: float, port: int, requests: int | None, concurrency: int) -> str:
    rows = "\n".join(
        f"  {name:<10} p50 {p50:5.1f} s   p95 {p95:5.1f} s   success {ok * 100:4.1f} %"
        for name, (p50, p95, ok) in SEED_FIGURES.items()
    )
    how_many = f"{requests} requests" if requests else "requests until you press Ctrl-C"
    return f"""\
imagegate demo: one OpenAI-compatible endpoint in front of four simulated providers of {MODEL}

The fake providers behave like the real ones did over 30 days (the seed's model page; Replicate's figures are
our assumption, it publishes none):
{rows}
Failures are 503/500 mostly, some 429 with Retry-After, a few that never answer. Gemini, the best of them, also
runs out of quota for 15 s every minute (429 with Retry-After), so the router has to spread the load.
Time runs {1 / time_scale:g}x faster than real; every time below, everywhere, is in real seconds.

The gateway (http://127.0.0.1:{port}/v1, policy `auto`, hedging on) tries the offer with the best expected
time and price per success first and fails over when it fails. {concurrency} clients send {how_many}.
Each line: request, provider that answered, end-to-end latency, then every attempt (x failed, ~ cancelled hedge).
"""


def _attempt_text(a: dict[str, Any], time_scale: float) -> str:
    mark = "ok" if a.get("outcome") == "success" else ("~" if a.get("outcome") == "cancelled" else "x")
    status = f" {a['status']}" if a.get("status") else ""
    hedge = " hedge" if a.get("hedged") else ""
    return f"{a.get('provider')} {mark}{status}{hedge} {a.get('latency_ms', 0) / 1000 / time_scale:.1f}s"


def request_line(i: int, status: int, body: dict[str, Any], latency_s: float, time_scale: float) -> str:
    if status == 200:
        meta = body.get("metadata", {})
        attempts = meta.get("attempts", [])
        provider, cost = meta.get("provider", "?"), f"${meta.get('cost', 0):.4f}"
    else:
        err = body.get("error", {}) if isinstance(body, dict) else {}
        attempts = err.get("attempts", [])
        provider, cost = f"FAILED {status}", ""
    chain = " -> ".join(_attempt_text(a, time_scale) for a in attempts)
    return f"#{i:<4} {provider:<10} {latency_s / time_scale:6.1f} s {cost:>8}   {chain}"


def figures_table(body: dict[str, Any], time_scale: float) -> str:
    def s(ms: float | None) -> str:
        return f"{ms / 1000 / time_scale:6.1f} s" if ms is not None else "     n/a"

    lines = ["  provider    requests  success     p50       p95       avg"]
    for p in body.get("data", []):
        perf = p.get("performance") or {}
        if not perf.get("requests"):
            continue
        rate = perf.get("success_rate")
        lines.append(
            f"  {p.get('provider', '?'):<10} {perf['requests']:>8}  {rate * 100 if rate is not None else 0:6.1f} %"
            f"  {s(perf.get('latency_p50_ms'))}  {s(perf.get('latency_p95_ms'))}  {s(perf.get('latency_avg_ms'))}"
        )
    return "\n".join(lines)


def routing_line(answered: dict[str, int]) -> str:
    """``answered by: gemini 71 %, replicate 20 %, ...`` (images returned, by provider)."""
    total = sum(answered.values())
    if not total:
        return "  answered by: nobody yet"
    shares = sorted(answered.items(), key=lambda kv: -kv[1])
    return "  answered by: " + ", ".join(f"{p} {n * 100 / total:.0f} % ({n})" for p, n in shares)


def _figures_from_answers(seen: dict[str, list[tuple[bool, float]]]) -> dict[str, Any]:
    """The same shape as the providers endpoint, from the attempts in our answers (if the endpoint is absent)."""
    data = []
    for provider, samples in sorted(seen.items()):
        ok = sorted(ms for good, ms in samples if good)

        def q(frac: float, ok: list[float] = ok) -> float | None:
            return ok[min(len(ok) - 1, int(frac * len(ok)))] if ok else None

        data.append({"provider": provider, "performance": {
            "requests": len(samples), "success_rate": len(ok) / len(samples), "latency_p50_ms": q(0.5),
            "latency_p95_ms": q(0.95), "latency_avg_ms": sum(ok) / len(ok) if ok else None}})  # fmt: skip
    return {"data": data}


async def _drive(
    url: str, time_scale: float, requests: int | None, concurrency: int, echo: Echo, client: httpx.AsyncClient
) -> None:
    counter = iter(range(1, requests + 1)) if requests else itertools.count(1)
    seen: dict[str, list[tuple[bool, float]]] = {}
    answered: dict[str, int] = {}
    state = {"ok": 0, "failed": 0, "endpoint": True}

    async def worker() -> None:
        for i in counter:
            start = time.perf_counter()
            body = {"model": MODEL, "prompt": f"a lighthouse at dusk, take {i}", "size": "1024x1024",
                    "response_format": "b64_json"}  # fmt: skip
            try:
                r = await client.post(url + "/v1/images/generations", json=body)
                status, answer = r.status_code, r.json()
            except (httpx.HTTPError, ValueError) as exc:
                status, answer = 0, {"error": {"message": type(exc).__name__}}
            latency = time.perf_counter() - start
            state["ok" if status == 200 else "failed"] += 1
            if status == 200:
                winner = (answer.get("metadata") or {}).get("provider", "?")
                answered[winner] = answered.get(winner, 0) + 1
            attempts = (answer.get("metadata") or answer.get("error") or {}).get("attempts", [])
            for a in attempts:
                if a.get("outcome") != "cancelled":
                    seen.setdefault(a["provider"], []).append((a["outcome"] == "success", a.get("latency_ms", 0)))
            echo(request_line(i, status, answer, latency, time_scale))

    async def figures(final: bool = False) -> None:
        body = None
        if not final:  # at Ctrl-C the gateway may be going: use what the answers said
            try:
                r = await client.get(f"{url}/v1/models/{MODEL}/providers")
                body = r.json() if r.status_code == 200 else None
            except (httpx.HTTPError, ValueError):
                body = None
        if body is None:
            body = _figures_from_answers(seen)
        done = state["ok"] + state["failed"]
        rate = state["ok"] / done * 100 if done else 0.0
        title = "Summary" if final else "-- gateway"
        echo(f"\n{title}: {done} requests, {rate:.1f} % answered with an image; per provider (every attempt, real s):")
        echo(figures_table(body, time_scale))
        echo(routing_line(answered) + "\n")

    async def ticker() -> None:
        while True:
            await asyncio.sleep(REFRESH_S)
            await figures()

    tick = asyncio.create_task(ticker())
    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    except asyncio.CancelledError:  # Ctrl-C: the summary, from the answers received so far
        await figures(final=True)
        raise
    finally:
        tick.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tick
    await figures()


async def _main(time_scale: float, port: int, requests: int | None, data_dir: Path, seed: int | None,
                concurrency: int, echo: Echo) -> None:  # fmt: skip
    data_dir.mkdir(parents=True, exist_ok=True)
    profiles = scenario_profiles(SCENARIO, time_scale, seed, run_s=DEMO_RUN_S)
    fleet = ThreadedFleet(Fleet(workdir=data_dir / "fleet", providers=PROVIDERS, profiles=profiles))
    fleet.start()
    gateway: GatewayProcess | None = None
    try:
        port = port or free_port()
        config = data_dir / "demo-config.yaml"
        config.write_text(yaml.safe_dump(demo_config(time_scale), sort_keys=False))
        # its own session: Ctrl-C reaches the demo only, which stops the gateway first and the fakes after it,
        # so no request sees a fake vanish under it (no false failovers at shutdown)
        gateway = GatewayProcess(
            data_dir,
            {**fleet.fleet.env(), "IMAGEGATE_PLACEHOLDER": "off"},
            config,
            port,
            log_path=data_dir / "gateway.log",
            new_session=True,
        )
        echo(header(time_scale, port, requests, concurrency))
        timeout = httpx.Timeout(300.0 * time_scale + 10.0, connect=5.0)
        async with httpx.AsyncClient(timeout=timeout) as client:
            await gateway.wait_ready_async(client)
            echo(f"Gateway ready at {gateway.url}/v1 (data in {data_dir}).\n")
            await _drive(gateway.url, time_scale, requests, concurrency, echo, client)
    finally:
        if gateway is not None:
            gateway.stop()
        fleet.stop()


def run_demo(
    time_scale: float,
    port: int,
    requests: int | None,
    data_dir: Path,
    *,
    seed: int | None = None,
    concurrency: int = 4,
    echo: Echo = _echo,
) -> None:
    """Run the demo until ``requests`` are answered (``None``: until Ctrl-C). ``port`` 0 picks a free one;
    ``data_dir`` holds the gateway's database and logs (its request log feeds the figures)."""
    if not 0 < time_scale <= 1:
        raise ValueError("time_scale must be in (0, 1]")
    try:
        asyncio.run(_main(time_scale, port, requests, Path(data_dir), seed, concurrency, echo))
    except KeyboardInterrupt:
        echo("\nStopped.")

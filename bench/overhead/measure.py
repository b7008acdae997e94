"""One load-generator run against one target, with the target's CPU seconds measured around it.

Two generators: ``raw`` (loadgen.py, the default: every latency of the measured window, pooled over the rounds) and
``wrk`` (wrk.py: percentiles only, per round; a scenario reports the median of its rounds' p50 and p99). Each
result says which one produced it (``load_generator``), and the generator's own CPU seconds (``RUSAGE_CHILDREN``
around the run) per 1,000 requests, so one can see whether it, not the path, was the limit.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from procs import Proc
from targets import HERE, Call


@dataclass
class Sample:
    """What a target accumulated over the rounds of one scenario."""

    latencies_ms: list[float] = field(default_factory=list)
    rounds: list[dict] = field(default_factory=list)  # per-round percentiles, when the generator has no list (wrk)
    generators: list[str] = field(default_factory=list)
    ok: int = 0
    total_requests: int = 0
    window_s: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)
    error_sample: str = ""
    server_cpu_s: float = 0.0  # the gateway's (or, for direct, the upstream's) CPU seconds
    upstream_cpu_s: float = 0.0
    loadgen_cpu_s: float = 0.0
    polls: int = 0  # job mode: GET /v1/jobs/{id} requests made

    def add(
        self, result: dict, server_cpu: float, upstream_cpu: float, loadgen_cpu: float, generator: str = "raw"
    ) -> None:
        if "latencies_ms" in result:
            self.latencies_ms += result["latencies_ms"]
        else:
            self.rounds.append({k: result.get(k) for k in ("ok", "p50_ms", "p99_ms", "mean_ms", "max_ms")})
        if generator not in self.generators:
            self.generators.append(generator)
        self.ok += result["ok"]
        self.total_requests += result["total_requests"]
        self.window_s += result["window_s"]
        for kind, n in result["errors"].items():
            self.errors[kind] = self.errors.get(kind, 0) + n
        self.error_sample = self.error_sample or result.get("error_sample", "")
        self.server_cpu_s += server_cpu
        self.upstream_cpu_s += upstream_cpu
        self.loadgen_cpu_s += loadgen_cpu
        self.polls += result.get("polls", 0)

    def summary(self) -> dict:
        lat = sorted(self.latencies_ms)

        def pct(q: float) -> float | None:
            return lat[min(len(lat) - 1, round(q * (len(lat) - 1)))] if lat else None

        def median_of_rounds(key: str) -> float | None:
            values = [r[key] for r in self.rounds if r.get(key) is not None]
            return round(statistics.median(values), 4) if values else None

        if lat or not self.rounds:
            p50, p99 = pct(0.50), pct(0.99)
            mean = round(sum(lat) / len(lat), 4) if lat else None
            latency_from = "every request of the measured windows, pooled"
        else:  # percentile-only rounds (wrk): the median of the rounds' percentiles; the mean weighted by answers
            p50, p99 = median_of_rounds("p50_ms"), median_of_rounds("p99_ms")
            weighted = [(r["mean_ms"], r["ok"]) for r in self.rounds if r.get("mean_ms") is not None and r["ok"]]
            n = sum(w for _, w in weighted)
            mean = round(sum(m * w for m, w in weighted) / n, 4) if n else None
            latency_from = f"median of {len(self.rounds)} rounds' percentiles"
        per_k = 1000 / self.total_requests if self.total_requests else 0.0
        return {
            "load_generator": "+".join(self.generators) or "raw",
            "latency_from": latency_from,
            "rps": round(self.ok / self.window_s, 1) if self.window_s else 0.0,
            "p50_ms": p50,
            "p99_ms": p99,
            "mean_ms": mean,
            "ok": self.ok,
            "errors": self.errors,
            "error_sample": self.error_sample,
            "requests_incl_warmup": self.total_requests,
            "server_cpu_s_per_1000": round(self.server_cpu_s * per_k, 4),
            "upstream_cpu_s_per_1000": round(self.upstream_cpu_s * per_k, 4),
            "loadgen_cpu_s_per_1000": round(self.loadgen_cpu_s * per_k, 4),
            **({"rounds": self.rounds} if self.rounds else {}),
            **({"polls_per_job": round(self.polls / self.ok, 2)} if self.polls and self.ok else {}),
        }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def loadgen_argv(call: Call, concurrency: int, **opts: float | int | str) -> list[str]:
    argv = [
        sys.executable,
        str(HERE / "loadgen.py"),
        "--port",
        str(call.port),
        "--path",
        call.path,
        "--body",
        call.body,
        "-c",
        str(concurrency),
    ]
    for header in call.headers:
        argv += ["--header", header]
    for key, value in opts.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    return argv


def parse_loadgen(out: str, err: str, code: int) -> dict:
    if code != 0 or not out.strip():
        raise RuntimeError(f"load generator failed ({code}): {err[-2000:]}")
    return json.loads(out.strip().splitlines()[-1])


def wait_idle(proc: Proc, *, step_s: float = 0.25, busy_share: float = 0.12, max_s: float = 60.0) -> float:
    """Wait until ``proc`` (with its children) uses less than ``busy_share`` of a core over ``step_s``; the seconds
    waited. After a wrk run: the path may still be serving the requests wrk abandoned."""
    start = time.monotonic()
    last = proc.cpu_seconds()
    while time.monotonic() - start < max_s:
        time.sleep(step_s)
        now = proc.cpu_seconds()
        if now - last < busy_share * step_s:
            break
        last = now
    return time.monotonic() - start


def run_loop(
    call: Call,
    concurrency: int,
    *,
    duration_s: float,
    warmup_s: float,
    timeout_s: float,
    server: Proc,
    upstream: Proc,
    sample: Sample,
    generator: str = "raw",
    mode: str = "loop",
    wrk_threads: int = 1,
    workdir: Path | None = None,
    poll_interval_s: float = 0.001,
) -> dict:
    """Run the closed loop once with ``generator`` (``raw`` or ``wrk``; ``mode="job"``: the raw generator's job
    client); add its figures to ``sample``; return the generator's result."""
    srv0, up0, lg0 = server.cpu_seconds(), upstream.cpu_seconds(), _children_cpu()
    if generator == "wrk" and mode == "loop":
        from wrk import run_wrk

        result = run_wrk(
            call,
            concurrency,
            duration_s=duration_s,
            warmup_s=warmup_s,
            timeout_s=timeout_s,
            threads=wrk_threads,
            workdir=workdir or Path("/tmp"),
            settle=lambda: wait_idle(server, max_s=timeout_s),
        )
        label = "wrk"
    else:
        opts: dict[str, float | int | str] = {"duration_s": duration_s, "warmup_s": warmup_s, "timeout_s": timeout_s}
        if mode != "loop":
            opts |= {"mode": mode, "poll_interval_s": poll_interval_s}
        argv = loadgen_argv(call, concurrency, **opts)
        done = subprocess.run(argv, capture_output=True, text=True, timeout=duration_s + warmup_s + timeout_s + 60)
        result = parse_loadgen(done.stdout, done.stderr, done.returncode)
        label = "raw" if mode == "loop" else f"raw {mode}"
    srv1, up1, lg1 = server.cpu_seconds(), upstream.cpu_seconds(), _children_cpu()
    sample.add(result, srv1 - srv0, up1 - up0, lg1 - lg0, label)
    return result

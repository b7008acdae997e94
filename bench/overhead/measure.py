"""One load-generator run against one target, with the target's CPU seconds measured around it."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from dataclasses import dataclass, field

from procs import Proc
from targets import HERE, Call


@dataclass
class Sample:
    """What a target accumulated over the rounds of one scenario."""

    latencies_ms: list[float] = field(default_factory=list)
    ok: int = 0
    total_requests: int = 0
    window_s: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)
    error_sample: str = ""
    server_cpu_s: float = 0.0  # the gateway's (or, for direct, the upstream's) CPU seconds
    upstream_cpu_s: float = 0.0
    loadgen_cpu_s: float = 0.0

    def add(self, result: dict, server_cpu: float, upstream_cpu: float, loadgen_cpu: float) -> None:
        self.latencies_ms += result["latencies_ms"]
        self.ok += result["ok"]
        self.total_requests += result["total_requests"]
        self.window_s += result["window_s"]
        for kind, n in result["errors"].items():
            self.errors[kind] = self.errors.get(kind, 0) + n
        self.error_sample = self.error_sample or result.get("error_sample", "")
        self.server_cpu_s += server_cpu
        self.upstream_cpu_s += upstream_cpu
        self.loadgen_cpu_s += loadgen_cpu

    def summary(self) -> dict:
        lat = sorted(self.latencies_ms)

        def pct(q: float) -> float | None:
            return lat[min(len(lat) - 1, round(q * (len(lat) - 1)))] if lat else None

        per_k = 1000 / self.total_requests if self.total_requests else 0.0
        return {
            "rps": round(self.ok / self.window_s, 1) if self.window_s else 0.0,
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "mean_ms": round(sum(lat) / len(lat), 4) if lat else None,
            "ok": self.ok,
            "errors": self.errors,
            "error_sample": self.error_sample,
            "requests_incl_warmup": self.total_requests,
            "server_cpu_s_per_1000": round(self.server_cpu_s * per_k, 4),
            "upstream_cpu_s_per_1000": round(self.upstream_cpu_s * per_k, 4),
            "loadgen_cpu_s_per_1000": round(self.loadgen_cpu_s * per_k, 4),
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
) -> dict:
    """Run the closed loop once; add its figures to ``sample``; return the raw loadgen result."""
    argv = loadgen_argv(call, concurrency, duration_s=duration_s, warmup_s=warmup_s, timeout_s=timeout_s)
    srv0, up0, lg0 = server.cpu_seconds(), upstream.cpu_seconds(), _children_cpu()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration_s + warmup_s + timeout_s + 60)
    srv1, up1, lg1 = server.cpu_seconds(), upstream.cpu_seconds(), _children_cpu()
    result = parse_loadgen(done.stdout, done.stderr, done.returncode)
    sample.add(result, srv1 - srv0, up1 - up0, lg1 - lg0)
    return result

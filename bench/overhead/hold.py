"""The hold test: N requests in flight at once through a gateway to an upstream that answers after a delay.

Reports the gateway's peak resident memory (sampled VmRSS and the per-process high-water mark VmHWM, summed over
its workers), its peak open file descriptors, how many connections the upstream held at once, and every error.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from measure import loadgen_argv, parse_loadgen
from procs import Proc
from targets import direct_call, gateway_call, start_imagegate, start_litellm, start_upstream


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def hold_test(
    workdir: Path,
    *,
    target: str,
    concurrency: int,
    delay_s: float,
    workers: int = 1,
    clients: int = 2,
    litellm_venv: Path | None = None,
) -> dict:
    """Run one hold test against a fresh gateway process (so its memory high-water mark is this test's alone)."""
    tag = f"hold-{target}-w{workers}"
    upstream, up_port = start_upstream(workdir, delay_s=delay_s, name=f"{tag}-upstream")
    gateway: Proc | None = None
    try:
        if target == "imagegate":
            gateway, port = start_imagegate(workdir, up_port, workers=workers, name=tag)
            call = gateway_call(port, "openai", "small", prefixed=True)
        elif target == "litellm":
            assert litellm_venv is not None
            gateway, port = start_litellm(workdir, litellm_venv, up_port)
            call = gateway_call(port, "openai", "small", prefixed=False)
        else:
            call = direct_call(up_port, "openai", "small")
        measured = gateway or upstream
        time.sleep(1.0)
        idle_rss = measured.rss_bytes()
        idle_upstream_fds = upstream.open_fds()
        timeout_s = delay_s + 120
        started = time.monotonic()
        procs = [
            subprocess.Popen(
                loadgen_argv(call, n, mode="once", timeout_s=timeout_s, connect_batch=256),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for n in _split(concurrency, clients)
        ]
        peak_rss = peak_fds = peak_upstream_fds = 0
        while any(p.poll() is None for p in procs):
            peak_rss = max(peak_rss, measured.rss_bytes())
            peak_fds = max(peak_fds, measured.open_fds())
            peak_upstream_fds = max(peak_upstream_fds, upstream.open_fds())
            time.sleep(0.5)
            if time.monotonic() - started > timeout_s + 120:
                for p in procs:
                    p.kill()
        results = [parse_loadgen(*p.communicate(), p.returncode) for p in procs]
        hwm = measured.peak_rss_bytes()
        errors: dict[str, int] = {}
        for r in results:
            for kind, n in r["errors"].items():
                errors[kind] = errors.get(kind, 0) + n
        lat = sorted(x for r in results for x in r["latencies_ms"])
        ok = sum(r["ok"] for r in results)
        gateway_log = gateway.log_tail(1500) if gateway and (errors or not gateway.alive()) else ""
        return {
            "target": target,
            "workers": workers,
            "concurrency": concurrency,
            "upstream_delay_s": delay_s,
            "ok": ok,
            "errors": errors,
            "error_sample": next((r["error_sample"] for r in results if r["error_sample"]), ""),
            "alive_after": measured.alive(),
            "idle_rss_mib": round(idle_rss / 2**20, 1),
            "peak_rss_mib": round(max(peak_rss, hwm) / 2**20, 1),
            "rss_per_inflight_kib": round((max(peak_rss, hwm) - idle_rss) / 1024 / max(1, concurrency), 1),
            "peak_open_fds": peak_fds,
            "peak_upstream_connections": max(0, peak_upstream_fds - idle_upstream_fds),
            "p50_s": round(lat[len(lat) // 2] / 1000, 2) if lat else None,
            "max_s": round(lat[-1] / 1000, 2) if lat else None,
            "wall_s": round(time.monotonic() - started, 1),
            "gateway_log_tail": gateway_log,
        }
    finally:
        if gateway is not None:
            gateway.stop()
        upstream.stop()

"""``wrk`` (Debian's ``apt-get install -y wrk``) as the load generator: a closed loop of N keep-alive connections
in C, duration-based, driven by a generated Lua script (method, body, headers) whose ``done()`` prints one JSON
object: requests, errors (non-2xx answers and socket errors), duration and latency percentiles from wrk's own
histogram (``latency:percentile(p)``, microseconds).

wrk keeps no per-request latency list, so a run gives percentiles only: ``measure.Sample`` keeps each round's
p50/p99 and reports the median over the rounds (see there). A warm-up is a separate, shorter wrk run before the
measured one; both count towards the requests the CPU is divided by, as with the raw generator.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from targets import Call

_MARK = "WRK_JSON "

_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"bytes":%d,'
    .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
    .. '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\\n',
    "__MARK__", summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""


def find_wrk() -> str | None:
    return shutil.which("wrk") or next((c for c in ("/usr/bin/wrk", "/usr/local/bin/wrk") if Path(c).exists()), None)


def _long_string(text: str) -> str:
    """A Lua long bracket string that cannot be closed by the text itself."""
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    eq = "=" * level
    return f"[{eq}[{text}]{eq}]"


def lua_script(call: Call) -> str:
    lines = [
        'wrk.method = "POST"',
        f"wrk.path = {_long_string(call.path)}",
        f"wrk.body = {_long_string(call.body)}",
        'wrk.headers["Content-Type"] = "application/json"',
    ]
    for header in call.headers:
        name, _, value = header.partition(": ")
        lines.append(f"wrk.headers[ {_long_string(name)} ] = {_long_string(value)}")
    return "\n".join(lines) + "\n" + _DONE.replace("__MARK__", _MARK)


def parse_output(out: str) -> dict:
    for line in out.splitlines():
        if line.startswith(_MARK):
            return json.loads(line[len(_MARK) :])
    raise ValueError("no result line")


def _run(wrk: str, script: Path, call: Call, concurrency: int, threads: int, seconds: float, timeout_s: float) -> dict:
    argv = [
        wrk,
        "-t",
        str(max(1, min(threads, concurrency))),
        "-c",
        str(concurrency),
        "-d",
        f"{max(1, round(seconds))}s",
        "--timeout",
        f"{max(1, round(timeout_s))}s",
        "-s",
        str(script),
        f"http://127.0.0.1:{call.port}{call.path}",
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + timeout_s + 60)
    try:
        return parse_output(done.stdout)
    except ValueError:
        raise RuntimeError(f"wrk failed ({done.returncode}): {(done.stdout + done.stderr)[-2000:]}") from None


def run_wrk(
    call: Call,
    concurrency: int,
    *,
    duration_s: float,
    warmup_s: float,
    timeout_s: float,
    threads: int,
    workdir: Path,
    settle: Callable[[], None] = lambda: None,
) -> dict:
    """A warm-up run (when ``warmup_s`` > 0), then the measured one, as a loadgen-like result without the latency
    list. wrk takes whole seconds: durations are rounded (at least 1 s).

    When its time is up wrk closes its connections with their requests still in flight (one per connection, in a
    closed loop), and the path goes on working on them: ``settle`` (waiting until the path's CPU goes quiet) runs
    after each wrk run, so that work neither slows the measured run nor the next path's, and those requests are
    counted in ``total_requests`` (the CPU per request's divisor), since the path did serve them."""
    wrk = find_wrk()
    if wrk is None:
        raise RuntimeError("wrk is not installed: `apt-get install -y wrk`")
    script = workdir / f"wrk-{call.port}-{abs(hash(call))}.lua"
    script.write_text(lua_script(call))
    warm = None
    if warmup_s > 0:
        warm = _run(wrk, script, call, concurrency, threads, warmup_s, timeout_s)
        settle()
    r = _run(wrk, script, call, concurrency, threads, duration_s, timeout_s)
    settle()
    e = r["errors"]
    errors = {
        k: v
        for k, v in {
            "http_non2xx": e["status"],
            "connect": e["connect"],
            "read": e["read"],
            "write": e["write"],
            "timeout": e["timeout"],
        }.items()
        if v
    }
    window = r["duration_us"] / 1e6
    ok = r["requests"] - e["status"]
    ms = 1 / 1000
    return {
        "ok": ok,
        "errors": errors,
        "error_sample": "",
        "total_requests": r["requests"] + (warm["requests"] + concurrency if warm else 0) + concurrency,
        "abandoned_in_flight": concurrency * (2 if warm else 1),
        "window_s": window,
        "rps": ok / window if window > 0 else 0.0,
        "p50_ms": round(r["p50_us"] * ms, 4) if ok else None,
        "p99_ms": round(r["p99_us"] * ms, 4) if ok else None,
        "mean_ms": round(r["mean_us"] * ms, 4) if ok else None,
        "max_ms": round(r["max_us"] * ms, 4) if ok else None,
    }

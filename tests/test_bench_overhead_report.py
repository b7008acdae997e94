"""The overhead benchmark's pure logic (bench/overhead): wrk's Lua script, percentile-only samples, issue 18's
targets and their ``n/a`` when a path is missing. No process is started."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "overhead"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCH))
    try:
        import measure
        import report
        import targets
        import wrk

        yield measure, report, targets, wrk
    finally:
        sys.path.remove(str(BENCH))


def _s(rps: float, p50: float, p99: float | None = None) -> dict:
    cpu = {"server_cpu_s_per_1000": 1.0, "upstream_cpu_s_per_1000": 0.1, "loadgen_cpu_s_per_1000": 0.1}
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99 or p50 * 2, "mean_ms": p50, "errors": {}, **cpu}


def test_lua_script_quotes_what_it_is_given(bench):
    _, _, targets, wrk = bench
    call = targets.Call(8080, "/v1/x", '{"prompt": "a ]] b ]=] c"}', ("Authorization: Bearer x", "x-a: b"))
    script = wrk.lua_script(call)
    assert "wrk.body = [==[" in script and '{"prompt": "a ]] b ]=] c"}]==]' in script
    assert "wrk.headers[ [[Authorization]] ] = [[Bearer x]]" in script
    assert wrk.parse_output('noise\nWRK_JSON {"requests": 3}\n') == {"requests": 3}


def test_percentile_only_rounds_report_their_median(bench):
    measure, *_ = bench
    sample = measure.Sample()
    for p50, p99, ok in ((1.0, 5.0, 100), (3.0, 9.0, 100), (2.0, 4.0, 200)):
        result = {"ok": ok, "total_requests": ok, "window_s": 1.0, "errors": {}, "p50_ms": p50, "p99_ms": p99,
                  "mean_ms": p50, "max_ms": p99}  # fmt: skip
        sample.add(result, 0.1, 0.0, 0.05, "wrk")
    s = sample.summary()
    assert (s["p50_ms"], s["p99_ms"], s["load_generator"]) == (2.0, 5.0, "wrk")
    assert s["mean_ms"] == pytest.approx((100 + 300 + 400) / 400)
    assert s["rps"] == pytest.approx(400 / 3, abs=0.1) and len(s["rounds"]) == 3


def test_issue18_targets_and_na(bench):
    _, report, _, _ = bench
    scenarios = [
        {"protocol": "openai", "payload": "large", "concurrency": 16,
         "targets": {"direct": _s(1000, 5), "nginx": _s(600, 20), "imagegate": _s(630, 25)}},
        {"protocol": "openai", "payload": "small", "concurrency": 16,
         "targets": {"direct": _s(30000, 0.5), "imagegate": _s(3000, 2.5), "litellm": _s(150, 80.5)}},
        {"protocol": "openai", "payload": "small", "concurrency": 16, "surface": "stream",
         "targets": {"direct": _s(30000, 0.5), "imagegate stream": _s(10, 99)}},
    ]  # fmt: skip
    report.add_overheads(scenarios)
    hold = [
        {"target": "imagegate", "workers": 1, "concurrency": 10_000, "peak_rss_mib": 500, "errors": {"x": 3}},
        {"target": "imagegate", "workers": 2, "concurrency": 10_000, "peak_rss_mib": 700, "errors": {}},
    ]
    checks = {c["target"]: c for c in report.check_targets(scenarios, hold) if c["issue"] == 18}
    assert checks["1.5 MB (openai, 16 concurrent): imagegate >= 100 % of nginx's throughput"]["verdict"] == "PASS"
    assert checks["1.5 MB (openai, 64 concurrent): imagegate >= 100 % of nginx's throughput"]["verdict"] == "n/a"
    assert checks["2 KB (openai, 16 concurrent): throughput >= 15 x LiteLLM"]["verdict"] == "PASS"
    portkey = checks["2 KB (openai, 16 concurrent): throughput >= 4 x Portkey"]
    assert portkey["verdict"] == "n/a" and "portkey" in portkey["note"]
    assert checks["2 KB (openai, 16 concurrent): added p50 <= 1/15 of LiteLLM's"]["verdict"] == "PASS"  # 2 of 80
    held = checks["10,000 in flight: < 1 GiB RSS and zero errors, with the workers needed"]
    assert held["verdict"] == "PASS" and held["measured"].startswith("2 worker(s)")
    machine = {"cpus": 2, "cpu_model": "c", "memory_gib": 1, "kernel": "k", "python": "3"}
    machine["loadavg_at_start"] = (0, 0, 0)
    config = {"rounds": 1, "duration_s": 1, "warmup_s": 0}
    checks_all = report.check_targets(scenarios, hold)
    run = {"command": "x", "started": "now", "machine": machine, "config": config, "scenarios": scenarios,
           "checks": checks_all, "hold": []}  # fmt: skip
    text = report.render(run)
    assert "**Issue 18 targets**" in text and "**Other surfaces**" in text
    assert "| stream | 16 | imagegate stream | raw |" in text

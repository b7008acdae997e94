"""``imagegate demo`` end to end: fleet + gateway process + a few requests, time compressed 500x."""

from __future__ import annotations

from pathlib import Path

from imagegate.demo import figures_table, request_line, run_demo
from imagegate.testing.profiles import SEED_FIGURES, seed_profiles, time_scaled_routing


def test_demo_serves_requests_and_prints_figures(tmp_path: Path) -> None:
    lines: list[str] = []
    run_demo(time_scale=0.002, port=0, requests=6, data_dir=tmp_path, seed=7, concurrency=2, echo=lines.append)
    out = "\n".join(lines)
    assert "imagegate demo" in out and "Gateway ready" in out
    answered = [line for line in lines if line.startswith("#")]
    assert len(answered) == 6
    assert all(any(p in line for p in SEED_FIGURES) for line in answered)
    assert "-- gateway: 6 requests" in out  # the final figures table
    assert "provider    requests" in out
    assert (tmp_path / "imagegate.db").exists()


def test_seed_profiles_match_the_seed() -> None:
    profiles = seed_profiles(0.05, seed=1)
    assert set(profiles) == {"gemini", "vertex", "fal", "replicate"}
    gemini = profiles["gemini"]
    assert (gemini.p50_ms, gemini.p95_ms, gemini.time_scale) == (19_600, 35_600, 0.05)
    assert abs(gemini.success_rate - 0.93) < 1e-9
    assert abs(profiles["fal"].success_rate - 0.362) < 1e-9
    assert gemini.rates["unavailable"] > gemini.rates["rate_limited"] > gemini.rates["timeout"] > 0
    assert gemini.seed != profiles["vertex"].seed  # independent draws per provider


def test_time_scaled_routing_scales_durations_and_rates() -> None:
    routing = time_scaled_routing({"hedging": {"enabled": True}, "attempt_timeout": {"cold_s": 120}}, 0.05)
    assert routing["hedging"] == {"floor_s": 0.05, "min_per_s": 0.0, "enabled": True}
    assert routing["attempt_timeout"]["cold_s"] == 6.0
    assert routing["breaker"]["cooldown_s"] == 1.5
    assert routing["retry_budget"]["min_per_s"] == 20.0  # a per-second rate grows as time shrinks


def test_request_line_shows_failover_in_real_seconds() -> None:
    body = {"metadata": {"provider": "vertex", "cost": 0.1363, "attempts": [
        {"provider": "gemini", "outcome": "Unavailable", "status": 503, "latency_ms": 100.0},
        {"provider": "vertex", "outcome": "success", "latency_ms": 500.0}]}}  # fmt: skip
    line = request_line(3, 200, body, 0.6, 0.05)
    assert line.startswith("#3") and "vertex" in line and "12.0 s" in line
    assert "gemini x 503 2.0s -> vertex ok 10.0s" in line


def test_figures_table_scales_back() -> None:
    body = {"data": [{"provider": "gemini", "performance": {"requests": 10, "success_rate": 0.9,
                                                            "latency_p50_ms": 980.0, "latency_p95_ms": 1780.0,
                                                            "latency_avg_ms": 1000.0}},
                     {"provider": "fal", "performance": {"requests": 0}}]}  # fmt: skip
    table = figures_table(body, 0.05)
    assert "gemini" in table and "19.6 s" in table and "35.6 s" in table and "90.0 %" in table
    assert "fal" not in table  # no requests yet: not shown


def test_the_demo_routes_across_providers(tmp_path: Path) -> None:
    """Gemini is best on every axis of the seed's figures; its quota bursts make the router use the others."""
    lines: list[str] = []
    run_demo(time_scale=0.01, port=0, requests=40, data_dir=tmp_path, seed=3, concurrency=4, echo=lines.append)
    winners = {line.split()[1] for line in lines if line.startswith("#") and "FAILED" not in line}
    assert len(winners) >= 2, winners
    assert any(line.startswith("  answered by: ") for line in lines)


def test_ctrl_c_prints_a_summary_and_stops_the_gateway_first(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGEGATE_")}
    argv = [sys.executable, "-m", "imagegate", "demo", "--time-scale", "0.002", "--seed", "1"]
    proc = subprocess.Popen(
        [*argv, "--data-dir", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    assert proc.stdout is not None
    seen: list[str] = []
    for line in proc.stdout:  # until a few answers came back
        seen.append(line)
        if sum(x.startswith("#") for x in seen) >= 3:
            break
    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends (the gateway, in its own session, does not get it)
    rest, _ = proc.communicate(timeout=90)
    out = "".join(seen) + rest
    assert "Summary:" in out and "answered by:" in out.split("Summary:")[1]
    assert "Traceback" not in out
    log = (tmp_path / "gateway.log").read_text()
    assert "Finished server process" in log  # it shut down cleanly (SIGTERM from the demo), not killed

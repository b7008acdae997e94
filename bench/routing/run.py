"""Routing benchmark: single providers, LiteLLM's Router and imagegate ``auto`` on the same simulated fleet.

    .venv/bin/python bench/routing/run.py [--scenario seed|outage|bursts|all] [--requests 300] [--concurrency 20]
                                          [--time-scale 0.05] [--systems gemini,imagegate-auto,...]

Writes ``bench/routing/results/<scenario>.json`` (settings and figures per system) and prints the Markdown
table of ``docs/benchmarks.md``. Raw per-request records stay in the work directory (``--workdir``).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

from metrics import summarize
from report import table
from systems import SYSTEMS, RunSpec, run_system

from imagegate.testing.profiles import SCENARIOS, expected_run_s, scenario_profiles

HERE = Path(__file__).resolve().parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenario", default="all", choices=(*SCENARIOS, "all"))
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--concurrency", type=int, default=20)
    p.add_argument("--time-scale", type=float, default=0.05, help="multiply every latency (0.05: 20x faster)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--systems", default=",".join(SYSTEMS))
    p.add_argument("--litellm-python", default="/work/litellm-venv/bin/python")
    p.add_argument("--workdir", default="/tmp/imagegate-bench-routing")
    p.add_argument("--results", default=str(HERE / "results"))
    args = p.parse_args()
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = set(systems) - set(SYSTEMS)
    if unknown:
        sys.exit(f"unknown systems: {', '.join(sorted(unknown))}; known: {', '.join(SYSTEMS)}")
    scenarios = SCENARIOS if args.scenario == "all" else (args.scenario,)
    results_dir = Path(args.results)
    results_dir.mkdir(parents=True, exist_ok=True)
    for scenario in scenarios:
        run_s = expected_run_s(args.requests, args.concurrency)
        spec = RunSpec(scenario, args.requests, args.concurrency, args.time_scale, args.seed, run_s,
                       Path(args.workdir) / scenario, args.litellm_python)  # fmt: skip
        profiles = {k: {"p50_s": v.p50_ms / 1000, "p95_s": v.p95_ms / 1000, "rates": v.rates,
                        "outages_s": v.outages, "outage_fault": v.outage_fault,
                        "straggler_rate": v.straggler_rate, "straggler_factor": v.straggler_factor,
                        "retry_after_s": v.retry_after_s / args.time_scale}
                    for k, v in scenario_profiles(scenario, args.time_scale, args.seed, run_s).items()}  # fmt: skip
        path = results_dir / f"{scenario}.json"
        previous = json.loads(path.read_text()) if path.exists() else {}
        summaries = {s["system"]: s for s in previous.get("systems", [])} if previous.get("settings", {}).get(
            "requests") == args.requests else {}  # fmt: skip
        for system in systems:
            t0 = time.perf_counter()
            run = run_system(system, spec)
            spec.workdir.mkdir(parents=True, exist_ok=True)
            (spec.workdir / f"{system}.json").write_text(json.dumps(run))
            summary = summarize(run, args.time_scale)
            summary["config"] = run["config"]
            summaries[system] = summary
            print(
                f"[{scenario}] {system}: {summary['success_pct']:.2f} % ok, p50 {summary['p50_s'] or 0:.1f} s, "
                f"p95 {summary['p95_s'] or 0:.1f} s, {summary['attempts_per_request']:.2f} attempts/request, "
                f"${summary['cost_billed'] or 0:.4f} per image ({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
        ordered = [summaries[s] for s in SYSTEMS if s in summaries]
        doc = {
            "scenario": scenario,
            "settings": {"requests": args.requests, "concurrency": args.concurrency, "time_scale": args.time_scale,
                         "seed": args.seed, "expected_run_s": run_s, "machine": platform.platform(),
                         "command": " ".join(["bench/routing/run.py", *sys.argv[1:]])},
            "profiles": profiles,
            "systems": ordered,
        }  # fmt: skip
        path.write_text(json.dumps(doc, indent=1, default=list) + "\n")
        print(f"\n### {scenario}\n\n{table(ordered)}\n", flush=True)


if __name__ == "__main__":
    main()

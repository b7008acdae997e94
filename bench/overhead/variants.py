"""A/B of imagegate variants side by side: the same gateway started with different environment settings, and the
direct path, interleaved round by round against one fake upstream.

    .venv/bin/python bench/overhead/variants.py --variant untuned:IMAGEGATE_RUNTIME_TUNING=off --variant tuned

Each ``--variant NAME[:VAR=VALUE,...]`` starts one ``imagegate serve`` with those environment variables;
``server=granian`` (not an environment variable) serves the same app with granian instead of uvicorn. For every
scenario (protocol, payload, concurrency) each target runs ``--rounds`` closed loops, the order rotated every round.
A scenario's protocol may also be one of imagegate's other surfaces at 2 KB, ``stream``, ``chat`` or ``jobs`` (e.g.
``jobs:small:16``: an async job submitted and polled, loadgen.py's job mode), against the direct images call.
Reported per target: requests/s, p50/p99, the gateway's CPU milliseconds and minor page faults per request
(warm-up included), and its peak RSS. Results: ``results/variants-<stamp>.{json,md}``.

    .venv/bin/python bench/overhead/variants.py --variant uvicorn --variant granian:server=granian
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import Sample, run_loop  # noqa: E402
from procs import Proc, machine  # noqa: E402
from targets import (  # noqa: E402
    HERE,
    SURFACE_MARKERS,
    check_call,
    direct_call,
    gateway_call,
    start_imagegate,
    start_upstream,
    surface_call,
)


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    name, _, spec = text.partition(":")
    env = dict(item.split("=", 1) for item in spec.split(",") if item)
    return name, env


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variant", action="append", required=True, help="NAME[:VAR=VALUE,...] (repeatable)")
    p.add_argument(
        "--scenarios",
        default="openai:small:1,openai:small:16,openai:large:1,openai:large:16,gemini:large:16",
        help="protocol:payload:concurrency,...",
    )
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration-s", type=float, default=4.0)
    p.add_argument("--warmup-s", type=float, default=1.0)
    p.add_argument("--out", type=Path, default=HERE / "results")
    args = p.parse_args(argv)
    variants = [parse_variant(v) for v in args.variant]
    names = [n for n, _ in variants]
    if "direct" in names or len(set(names)) != len(names):
        p.error("variant names must be distinct, and 'direct' is the path straight to the upstream")
    command = "python bench/overhead/variants.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    results: dict = {
        "command": command,
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "variants": {n: e for n, e in variants},
        "scenarios": [],
    }
    with tempfile.TemporaryDirectory(prefix="imagegate-variants-") as tmp:
        workdir = Path(tmp)
        upstream, up_port = start_upstream(workdir)
        gateways: dict[str, tuple[Proc, int]] = {}
        try:
            for name, env in variants:
                env = dict(env)
                server = env.pop("server", "uvicorn")
                gateways[name] = start_imagegate(workdir, up_port, name=name, extra_env=env, server=server)
            time.sleep(1.0)
            for spec in args.scenarios.split(","):
                protocol, payload, conc = spec.split(":")
                surface = protocol in SURFACE_MARKERS
                calls = {"direct": direct_call(up_port, "openai" if surface else protocol, payload)}
                for name, (_, port) in gateways.items():
                    call = (
                        surface_call(port, protocol)
                        if surface
                        else gateway_call(port, protocol, payload, prefixed=True)
                    )
                    why = None if protocol == "jobs" else check_call(call, SURFACE_MARKERS.get(protocol, "b64_json"))
                    if why:
                        raise RuntimeError(f"{name}: {why}")
                    calls[name] = call
                samples = {name: Sample() for name in calls}
                faults = dict.fromkeys(calls, 0)
                names = list(calls)
                for r in range(args.rounds):
                    for name in names[r % len(names) :] + names[: r % len(names)]:
                        server = gateways[name][0] if name in gateways else upstream
                        f0 = server.minor_faults()
                        run_loop(
                            calls[name],
                            int(conc),
                            duration_s=args.duration_s,
                            warmup_s=args.warmup_s,
                            timeout_s=60,
                            server=server,
                            upstream=upstream,
                            sample=samples[name],
                            mode="job" if protocol == "jobs" and name != "direct" else "loop",
                        )
                        faults[name] += server.minor_faults() - f0
                row = {"protocol": protocol, "payload": payload, "concurrency": int(conc), "targets": {}}
                for name in names:
                    s = samples[name].summary()
                    s["minor_faults_per_request"] = round(faults[name] / max(1, samples[name].total_requests), 1)
                    row["targets"][name] = s
                results["scenarios"].append(row)
                print(
                    f"{spec}: " + ", ".join(f"{n} {s['rps']:.0f} req/s" for n, s in row["targets"].items()), flush=True
                )
            results["peak_rss_mib"] = {n: round(proc.peak_rss_bytes() / 2**20, 1) for n, (proc, _) in gateways.items()}
        finally:
            for proc, _ in gateways.values():
                proc.stop()
            upstream.stop()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"variants-{stamp}.json").write_text(json.dumps(results, indent=1) + "\n")
    md = render(results)
    (args.out / f"variants-{stamp}.md").write_text(md)
    print(md)


def render(results: dict) -> str:
    lines = [
        f"Command: `{results['command']}`  ",
        f"Run: {results['started']}  ",
        f"Variants: {json.dumps(results['variants'])}",
        "",
        "| upstream | image | conc. | target | req/s | share of direct | p50 ms | p99 ms | CPU ms / req | "
        "minor faults / req |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["scenarios"]:
        direct = row["targets"]["direct"]["rps"] or 1.0
        image = "2 KB" if row["payload"] == "small" else "1.5 MB"
        for name, s in row["targets"].items():
            cpu = s["server_cpu_s_per_1000"]
            lines.append(
                f"| {row['protocol']} | {image} | {row['concurrency']} | {name} | {s['rps']:,.0f} | "
                f"{100 * s['rps'] / direct:.0f} % | {s['p50_ms']:.2f} | {s['p99_ms']:.2f} | "
                f"{cpu:.3f}{' (upstream)' if name == 'direct' else ''} | "
                f"{s['minor_faults_per_request']}{' (upstream)' if name == 'direct' else ''} |"
            )
    lines.append("")
    lines.append("Peak RSS (VmHWM): " + ", ".join(f"{n} {v} MiB" for n, v in results.get("peak_rss_mib", {}).items()))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

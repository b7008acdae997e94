"""Gateway overhead benchmark (issues 5 and 18): direct vs nginx vs imagegate vs the Portkey gateway vs LiteLLM
proxy, interleaved in one run.

    .venv/bin/python bench/overhead/run.py                 # full run (~20 minutes on 2 cores)
    .venv/bin/python bench/overhead/run.py --quick         # smoke run (~3 minutes)
    .venv/bin/python bench/overhead/run.py --loadgen wrk   # wrk (apt-get install -y wrk) as the load generator

Starts a fixed-response fake upstream (upstream.py), ``imagegate serve`` and, when they are installed, nginx (one
worker, a pure relay), the Portkey gateway (Node) and the LiteLLM proxy (one worker); drives each with a
closed-loop load generator (loadgen.py, or wrk) at every concurrency, rotating the order of the targets every round
so drift hits all alike. Then imagegate's other surfaces at 2 KB (streaming, chat completions, async jobs) against
the same direct baseline. Writes results/overhead.json and results/overhead.md. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hold import hold_test  # noqa: E402
from measure import Sample, run_loop  # noqa: E402
from procs import Proc, machine  # noqa: E402
from pyspy_profile import profile_under_load  # noqa: E402
from report import add_overheads, check_targets, render  # noqa: E402
from targets import (  # noqa: E402
    HERE,
    REPO,
    SURFACE_MARKERS,
    Call,
    check_call,
    check_job,
    direct_call,
    find_nginx,
    gateway_call,
    portkey_call,
    portkey_install_hint,
    portkey_script,
    relay_call,
    start_imagegate,
    start_litellm,
    start_nginx,
    start_portkey,
    start_upstream,
    surface_call,
)
from wrk import find_wrk  # noqa: E402

SURFACES = ("stream", "chat", "jobs")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--litellm-venv",
        type=Path,
        default=REPO.parent / "litellm-venv",
        help="virtual environment with litellm[proxy]==1.100.5 (default: ../litellm-venv)",
    )
    p.add_argument(
        "--portkey-dir",
        type=Path,
        default=REPO.parent / "portkey",
        help="directory of `npm install @portkey-ai/gateway@1.15.2` (default: ../portkey)",
    )
    p.add_argument("--nginx", default=None, help="nginx binary (default: nginx on PATH, or /usr/sbin/nginx)")
    p.add_argument(
        "--nginx-buffered",
        action="store_true",
        help="also an nginx path with proxy_buffering on (64 x 64 KiB buffers), named nginx-buffered",
    )
    p.add_argument(
        "--loadgen",
        choices=("raw", "wrk"),
        default="raw",
        help="raw: loadgen.py (uvloop, prebuilt requests); wrk: Debian's wrk with a Lua script (jobs stay raw)",
    )
    p.add_argument("--wrk-threads", type=int, default=1, help="wrk -t (capped at the concurrency)")
    p.add_argument(
        "--surfaces",
        default=",".join(SURFACES),
        help="imagegate surfaces at 2 KB against the direct path: stream,chat,jobs ('' for none)",
    )
    p.add_argument("--surface-concurrency", default="1,16")
    p.add_argument("--job-poll-interval-s", type=float, default=0.001, help="jobs: wait between two polls")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration-s", type=float, default=4.0, help="measured seconds per target per round")
    p.add_argument("--warmup-s", type=float, default=1.0)
    p.add_argument("--concurrency", default="1,16,64")
    p.add_argument("--payloads", default="small,large")
    p.add_argument("--gemini-concurrency", default="1,16", help="Gemini protocol scenarios ('' for none)")
    p.add_argument("--timeout-s", type=float, default=60.0)
    p.add_argument("--hold-concurrency", type=int, default=10_000)
    p.add_argument("--hold-delay-s", type=float, default=20.0)
    p.add_argument("--hold-workers", default="1,2", help="imagegate worker counts to hold-test")
    p.add_argument("--hold-litellm", action="store_true", help="also hold-test LiteLLM (slow; may fail)")
    p.add_argument("--skip-hold", action="store_true")
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--profile-s", type=float, default=10.0, help="py-spy seconds per profile (0: no profile)")
    p.add_argument("--profile-only", action="store_true", help="only the py-spy profiles (no throughput table)")
    p.add_argument("--out", type=Path, default=HERE / "results")
    p.add_argument("--quick", action="store_true", help="1 round of 2 s, hold 1,000 x 3 s: a smoke run")
    args = p.parse_args(argv)
    if args.quick:  # smaller defaults; flags given explicitly still win
        p.set_defaults(
            rounds=1,
            duration_s=2.0,
            warmup_s=0.5,
            hold_concurrency=1000,
            hold_delay_s=3.0,
            hold_workers="1",
            profile_s=3.0,
        )
        args = p.parse_args(argv)
    return args


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def scenarios(args: argparse.Namespace) -> list[tuple[str, str, int]]:
    out = [("openai", payload, c) for payload in args.payloads.split(",") for c in _ints(args.concurrency)]
    out += [("gemini", payload, c) for payload in args.payloads.split(",") for c in _ints(args.gemini_concurrency)]
    return out


def surfaces(args: argparse.Namespace) -> list[tuple[str, int]]:
    names = [x.strip() for x in args.surfaces.split(",") if x.strip()]
    unknown = set(names) - set(SURFACES)
    if unknown:
        raise SystemExit(f"unknown --surfaces {sorted(unknown)}: choose from {', '.join(SURFACES)}")
    return [(name, c) for name in names for c in _ints(args.surface_concurrency)]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def start_gateways(
    args: argparse.Namespace,
    workdir: Path,
    up_port: int,
    skipped: dict[str, str],
    gateways: dict[str, tuple[Proc, int]],
) -> dict[str, tuple[Proc, int]]:
    """Start every path that is installed into ``gateways`` (filled as they come up, so a failure stops them all)."""
    nginx = shutil.which(args.nginx) if args.nginx else find_nginx()
    if nginx is None:
        where = args.nginx or "on PATH nor at /usr/sbin/nginx"
        skipped["nginx"] = f"no nginx {where}: install it with `apt-get install -y nginx`"
        log(skipped["nginx"])
    else:
        for name, buffering in (("nginx", False), ("nginx-buffered", True))[: 2 if args.nginx_buffered else 1]:
            try:
                gateways[name] = start_nginx(workdir / name, up_port, nginx, buffering=buffering)
                log(f"{name} up on port {gateways[name][1]}")
            except RuntimeError as exc:
                skipped[name] = str(exc)[-1500:]
                log(f"{name} skipped: {exc}")
    try:
        gateways["imagegate"] = start_imagegate(workdir, up_port)
        log(f"imagegate up on port {gateways['imagegate'][1]}")
    except RuntimeError as exc:
        skipped["imagegate"] = str(exc)[-1500:]
        log(f"imagegate skipped: {exc}")
    if not portkey_script(args.portkey_dir).exists():
        skipped["portkey"] = portkey_install_hint(args.portkey_dir)
        log(skipped["portkey"])
    else:
        try:
            gateways["portkey"] = start_portkey(workdir, args.portkey_dir)
            log(f"Portkey up on port {gateways['portkey'][1]}")
        except RuntimeError as exc:
            skipped["portkey"] = str(exc)[-1500:]
            log(f"Portkey skipped: {exc}")
    if not (args.litellm_venv / "bin" / "litellm").exists():
        skipped["litellm"] = (
            f"no LiteLLM at {args.litellm_venv}: create it with `python3 -m venv {args.litellm_venv} "
            f"&& {args.litellm_venv}/bin/pip install 'litellm[proxy]==1.100.5'`"
        )
        log(skipped["litellm"])
    else:
        try:
            gateways["litellm"] = start_litellm(workdir, args.litellm_venv, up_port)
            log(f"LiteLLM up on port {gateways['litellm'][1]}")
        except RuntimeError as exc:
            skipped["litellm"] = str(exc)[-1500:]
            log(f"LiteLLM skipped: {exc}")
    return gateways


def calls_for(
    protocol: str, payload: str, up_port: int, gateways: dict[str, tuple[Proc, int]], skipped: dict[str, str]
) -> dict[str, Call]:
    """Every path's request for one scenario, each checked once (a path whose check fails is skipped, saying why)."""
    direct = direct_call(up_port, protocol, payload)
    calls = {"direct": direct}
    for name, (_, port) in gateways.items():
        marker = "b64_json"
        if name.startswith("nginx"):
            call = relay_call(port, direct)
            marker = "b64_json" if protocol == "openai" else "inlineData"
        elif name == "portkey":
            if protocol != "openai":
                skipped[f"portkey ({protocol})"] = "Portkey is driven with the OpenAI protocol only (issue 18)"
                continue
            call = portkey_call(port, up_port, payload)
        else:
            call = gateway_call(port, protocol, payload, prefixed=name == "imagegate")
        why = check_call(call, marker)
        if why is None:
            calls[name] = call
        else:
            key = f"{name} ({protocol}, {payload})"
            skipped[key] = f"the check request failed: {why}"
            log(f"{key} skipped: {why}")
    return calls


def measure_scenario(
    args: argparse.Namespace,
    workdir: Path,
    calls: dict[str, Call],
    conc: int,
    gateways: dict[str, tuple[Proc, int]],
    upstream: Proc,
    *,
    mode: str = "loop",
    server_of: dict[str, str] | None = None,
) -> dict[str, dict]:
    """``rounds`` closed loops per path, the order rotated every round; each path's summary."""
    samples = {name: Sample() for name in calls}
    names = list(calls)
    for r in range(args.rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            proc_name = (server_of or {}).get(name, name)
            server = gateways[proc_name][0] if proc_name in gateways else upstream
            run_loop(
                calls[name],
                conc,
                duration_s=args.duration_s,
                warmup_s=args.warmup_s,
                timeout_s=args.timeout_s,
                server=server,
                upstream=upstream,
                sample=samples[name],
                generator=args.loadgen if mode == "loop" else "raw",
                mode="loop" if name == "direct" else mode,
                wrk_threads=args.wrk_threads,
                workdir=workdir,
                poll_interval_s=args.job_poll_interval_s,
            )
    return {name: samples[name].summary() for name in names}


def _line(summary: dict[str, dict]) -> str:
    def one(n: str, s: dict) -> str:
        errors = sum(s["errors"].values())
        return f"{n} {s['rps']:.0f} req/s p50 {s['p50_ms']} ms" + (f" ({errors} errors)" if errors else "")

    return ", ".join(one(n, s) for n, s in summary.items())


def throughput(args: argparse.Namespace, workdir: Path, results: dict) -> None:
    upstream, up_port = start_upstream(workdir)
    gateways: dict[str, tuple[Proc, int]] = {}
    try:
        start_gateways(args, workdir, up_port, results["skipped"], gateways)
        time.sleep(1.0)
        idle = {name: proc.rss_bytes() for name, (proc, _) in gateways.items()}
        for protocol, payload, conc in [] if args.profile_only else scenarios(args):
            calls = calls_for(protocol, payload, up_port, gateways, results["skipped"])
            summary = measure_scenario(args, workdir, calls, conc, gateways, upstream)
            results["scenarios"].append(
                {"protocol": protocol, "payload": payload, "concurrency": conc, "targets": summary}
            )
            log(f"{protocol} {payload} c={conc}: {_line(summary)}")
        for surface, conc in [] if args.profile_only else surfaces(args):
            if "imagegate" not in gateways:
                results["skipped"][f"surface {surface}"] = "imagegate did not start"
                continue
            call = surface_call(gateways["imagegate"][1], surface)
            why = check_job(call) if surface == "jobs" else check_call(call, SURFACE_MARKERS[surface])
            if why is not None:
                results["skipped"][f"surface {surface}"] = f"the check request failed: {why}"
                log(f"surface {surface} skipped: {why}")
                continue
            # jobs: both paths with the raw generator (wrk cannot follow a job), so the difference is like for like
            calls = {"direct": direct_call(up_port, "openai", "small"), f"imagegate {surface}": call}
            summary = measure_scenario(
                args,
                workdir,
                calls,
                conc,
                gateways,
                upstream,
                mode="job" if surface == "jobs" else "loop",
                server_of={f"imagegate {surface}": "imagegate"},
            )
            results["scenarios"].append(
                {"protocol": "openai", "payload": "small", "concurrency": conc, "surface": surface, "targets": summary}
            )
            log(f"surface {surface} c={conc}: {_line(summary)}")
        results["memory"] = {
            name: {
                "peak_rss_mib": round(proc.peak_rss_bytes() / 2**20, 1),
                "idle_rss_mib": round(idle[name] / 2**20, 1),
                "processes": len(proc.pids()),
            }
            for name, (proc, _) in gateways.items()
        }
        if args.profile_s > 0 and "imagegate" in gateways:
            proc, port = gateways["imagegate"]
            for payload in ("small", "large"):
                label = f"openai {'2 KB' if payload == 'small' else '1.5 MB'}, 16 concurrent"
                log(f"profiling imagegate: {label}")
                out_file = args.out / f"profile-{payload}-c16.txt"
                results["profile"][label] = profile_under_load(
                    proc.pid, gateway_call(port, "openai", payload, prefixed=True), 16, args.profile_s, out_file
                )
    finally:
        for proc, _ in gateways.values():
            proc.stop()
        upstream.stop()


def holds(args: argparse.Namespace, workdir: Path, results: dict) -> None:
    runs = [("imagegate", w) for w in _ints(args.hold_workers)]
    if args.hold_litellm:
        runs.append(("litellm", 1))
    for target, workers in runs:
        if target == "litellm" and not (args.litellm_venv / "bin" / "litellm").exists():
            results["hold"].append({"target": target, "skipped": "LiteLLM is not installed"})
            continue
        log(
            f"hold test: {args.hold_concurrency} in flight through {target} ({workers} worker(s)), "
            f"upstream delay {args.hold_delay_s} s"
        )
        try:
            h = hold_test(
                workdir,
                target=target,
                concurrency=args.hold_concurrency,
                delay_s=args.hold_delay_s,
                workers=workers,
                litellm_venv=args.litellm_venv,
            )
        except RuntimeError as exc:
            h = {"target": target, "skipped": str(exc)[-1000:]}
        results["hold"].append(h)
        log(f"hold {target} w={workers}: " + json.dumps({k: v for k, v in h.items() if k != "gateway_log_tail"}))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    surfaces(args)  # unknown names fail before anything starts
    if args.loadgen == "wrk" and find_wrk() is None:
        raise SystemExit("--loadgen wrk: wrk is not installed (`apt-get install -y wrk`)")
    args.out.mkdir(parents=True, exist_ok=True)
    command = ("python bench/overhead/run.py " + shlex.join(sys.argv[1:] if argv is None else argv)).strip()
    results: dict = {
        "command": command,
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "load_generator": args.loadgen,
        "skipped": {},
        "scenarios": [],
        "profile": {},
        "hold": [],
    }
    with tempfile.TemporaryDirectory(prefix="imagegate-bench-") as tmp:
        workdir = Path(tmp)
        if not args.skip_throughput:
            throughput(args, workdir, results)
        if not args.skip_hold:
            holds(args, workdir, results)
    results["machine"]["loadavg_at_end"] = os.getloadavg()
    add_overheads(results["scenarios"])
    results["checks"] = check_targets(results["scenarios"], results["hold"], cpus=results["machine"]["cpus"])
    stem = "overhead-quick" if args.quick else "overhead"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M")
    for name in (stem, f"{stem}-{stamp}"):  # the latest run, and this run kept beside the earlier ones
        (args.out / f"{name}.json").write_text(json.dumps(results, indent=1) + "\n")
        (args.out / f"{name}.md").write_text(render(results))
    print(render(results))
    log(f"wrote {args.out / stem}.json/.md and {args.out / stem}-{stamp}.json/.md")


if __name__ == "__main__":
    main()

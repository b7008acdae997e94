"""Derived figures (added latency, ratios against issue 5's targets) and the Markdown rendering of a run."""

from __future__ import annotations


def add_overheads(scenarios: list[dict]) -> None:
    """Added latency of each gateway = its percentile minus the direct path's, same scenario and run."""
    for sc in scenarios:
        direct = sc["targets"].get("direct")
        for name, s in sc["targets"].items():
            if name == "direct" or not direct or s["p50_ms"] is None or direct["p50_ms"] is None:
                continue
            s["added_p50_ms"] = round(s["p50_ms"] - direct["p50_ms"], 3)
            s["added_p99_ms"] = round(s["p99_ms"] - direct["p99_ms"], 3)
            s["throughput_vs_direct"] = round(s["rps"] / direct["rps"], 3) if direct["rps"] else None


def _find(scenarios: list[dict], protocol: str, payload: str, concurrency: int) -> dict | None:
    for sc in scenarios:
        if (sc["protocol"], sc["payload"], sc["concurrency"]) == (protocol, payload, concurrency):
            return sc["targets"]
    return None


def _fd_hard_limit() -> int:
    import resource

    return resource.getrlimit(resource.RLIMIT_NOFILE)[1]


def relay_ceiling(sc: dict, cpus: int) -> float | None:
    """The most any relay could reach, as a share of the direct throughput, in this scenario on this machine.

    A relay receives each answer as the load generator does (L CPU s per answer, measured on the direct path) and
    sends it as the upstream does (U): at least U + L more CPU per request on the same cores, and at least U + L
    more time per request at concurrency 1. Direct: U + L per request; through a relay: 2 (U + L).
    """
    direct = sc["targets"].get("direct")
    if not direct or not direct.get("rps"):
        return None
    u = direct["upstream_cpu_s_per_1000"] / 1000
    lg = direct["loadgen_cpu_s_per_1000"] / 1000
    if u <= 0 or lg <= 0:
        return None
    cpu_bound = cpus / (2 * (u + lg))  # requests/s with every core busy on the minimum work
    if sc["concurrency"] == 1 and direct.get("mean_ms"):
        latency_bound = 1 / (direct["mean_ms"] / 1000 + u + lg)
        cpu_bound = min(cpu_bound, latency_bound)
    return min(1.0, cpu_bound / direct["rps"])


def check_targets(scenarios: list[dict], hold: list[dict], cpus: int = 2) -> list[dict]:
    checks: list[dict] = []

    def check(name: str, measured: str, ok: bool | None, note: str = "") -> None:
        verdict = "n/a" if ok is None else ("PASS" if ok else "MISS")
        checks.append({"target": name, "measured": measured, "verdict": verdict, "note": note})

    t = _find(scenarios, "openai", "small", 16)
    if t and "imagegate" in t and "litellm" in t:
        ig, ll = t["imagegate"], t["litellm"]
        ratio = ig["rps"] / ll["rps"] if ll["rps"] else float("inf")
        check(
            "16 concurrent, 2 KB: throughput >= 10 x LiteLLM",
            f"{ratio:.1f} x ({ig['rps']:.0f} vs {ll['rps']:.0f} req/s)",
            ratio >= 10,
            "" if ratio >= 10 else f"short by {10 / ratio:.2f} x",
        )
        a_ig, a_ll = ig.get("added_p50_ms"), ll.get("added_p50_ms")
        if a_ig is not None and a_ll:
            frac = a_ig / a_ll
            check(
                "16 concurrent, 2 KB: added p50 <= 1/10 of LiteLLM's",
                f"{a_ig:.2f} ms vs {a_ll:.2f} ms = 1/{(1 / frac) if frac > 0 else float('inf'):.1f}",
                frac <= 0.1,
                "" if frac <= 0.1 else f"{a_ig / (a_ll / 10):.2f} x the allowed added p50",
            )
    else:
        check("16 concurrent, 2 KB: vs LiteLLM", "not measured", None, "LiteLLM or imagegate missing from the run")
    for protocol in ("openai", "gemini"):
        t = _find(scenarios, protocol, "small", 1)
        if t and "imagegate" in t and t["imagegate"].get("added_p50_ms") is not None:
            a = t["imagegate"]["added_p50_ms"]
            check(
                f"concurrency 1 ({protocol}, 2 KB): added p50 <= 1 ms",
                f"{a:.3f} ms",
                a <= 1.0,
                "" if a <= 1 else f"{a - 1:.3f} ms over",
            )
    for sc in scenarios:
        if sc["payload"] != "large" or "imagegate" not in sc["targets"]:
            continue
        share = sc["targets"]["imagegate"].get("throughput_vs_direct")
        if share is None:
            continue
        ceiling = relay_ceiling(sc, cpus)
        note = "" if share >= 0.6 else f"{100 * (0.6 - share):.0f} points short"
        if ceiling is not None:
            note += f"; any relay on this machine: <= {100 * ceiling:.0f} %"
        check(
            f"1.5 MB ({sc['protocol']}, {sc['concurrency']} concurrent): >= 60 % of direct throughput",
            f"{100 * share:.0f} %",
            share >= 0.6,
            note.lstrip("; "),
        )
    for h in hold:
        if h.get("target") != "imagegate" or "peak_rss_mib" not in h:
            continue
        errs = sum(h["errors"].values())
        ok = h["peak_rss_mib"] < 1024 and errs == 0 and h["concurrency"] >= 10_000
        note = ""
        per_process_fds = h.get("peak_open_fds", 0) / max(1, h["workers"])
        if errs and per_process_fds >= _fd_hard_limit() - 10:
            note = (
                f"each process may open {_fd_hard_limit():,} descriptors (hard limit) and a request in flight "
                "holds two sockets"
            )
        check(
            f"{h['concurrency']:,} in flight ({h['workers']} worker(s)): < 1 GiB RSS, zero errors",
            f"{h['peak_rss_mib']:.0f} MiB, {errs} errors",
            ok if h["concurrency"] >= 10_000 else None,
            note,
        )
    return checks


def _f(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{v:,.{digits}f}"


def render(results: dict) -> str:
    out: list[str] = []
    m = results["machine"]
    out.append(f"Command: `{results['command']}`  ")
    out.append(
        f"Run: {results['started']}, {results['config']['rounds']} interleaved rounds of "
        f"{results['config']['duration_s']} s (+{results['config']['warmup_s']} s warm-up) per target.  "
    )
    out.append(
        f"Machine: {m['cpus']} cores ({m['cpu_model']}), {m['memory_gib']} GiB, Linux {m['kernel']}, "
        f"Python {m['python']}; load generator, fake upstream and gateway share these cores; "
        f"load average at start {', '.join(f'{x:.2f}' for x in m['loadavg_at_start'])}"
        + (f", at end {', '.join(f'{x:.2f}' for x in m['loadavg_at_end'])}" if "loadavg_at_end" in m else "")
        + "."
    )
    for name, why in results.get("skipped", {}).items():
        out.append(f"\n**{name} skipped:** {why}")
    out.append(
        "\n| upstream | image | conc. | path | req/s | p50 ms | p99 ms | added p50 ms | added p99 ms "
        "| CPU s / 1k req | errors |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for sc in results["scenarios"]:
        image = "2 KB" if sc["payload"] == "small" else "1.5 MB"
        for name, s in sc["targets"].items():
            errs = sum(s["errors"].values())
            cpu = s["server_cpu_s_per_1000"] if name != "direct" else s["upstream_cpu_s_per_1000"]
            cpu_txt = f"{cpu:.3f}" + (" (upstream)" if name == "direct" else "")
            out.append(
                f"| {sc['protocol']} | {image} | {sc['concurrency']} | {name} | {_f(s['rps'], 0)} "
                f"| {_f(s['p50_ms'], 2)} | {_f(s['p99_ms'], 2)} | {_f(s.get('added_p50_ms'), 2)} "
                f"| {_f(s.get('added_p99_ms'), 2)} | {cpu_txt} | {errs} |"
            )
    mem = results.get("memory", {})
    if mem:
        out.append(
            "\nPeak RSS over the throughput runs (VmHWM): "
            + ", ".join(f"{k} {v['peak_rss_mib']:.0f} MiB (idle {v['idle_rss_mib']:.0f} MiB)" for k, v in mem.items())
            + "."
        )
    if results.get("hold"):
        out.append("\n**Hold test** (every request held 20 s by the upstream, all sent at once):\n")
        out.append(
            "| path | workers | in flight | ok | errors | peak RSS MiB | RSS / request KiB | peak fds "
            "| upstream conns | p50 s | max s |"
        )
        out.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for h in results["hold"]:
            if "skipped" in h:
                out.append(f"| {h['target']} | - | - | - | skipped: {h['skipped']} | | | | | | |")
                continue
            errs = ", ".join(f"{k}: {v}" for k, v in h["errors"].items()) or "0"
            out.append(
                f"| {h['target']} | {h['workers']} | {h['concurrency']:,} | {h['ok']:,} | {errs} "
                f"| {h['peak_rss_mib']:.0f} | {h['rss_per_inflight_kib']:.1f} | {h['peak_open_fds']:,} "
                f"| {h['peak_upstream_connections']:,} | {_f(h['p50_s'], 2)} | {_f(h['max_s'], 2)} |"
            )
    if results.get("checks"):
        out.append("\n**Issue 5 targets** (ratios within this run):\n")
        out.append("| target | measured | verdict | note |")
        out.append("|---|---|---|---|")
        for c in results["checks"]:
            out.append(f"| {c['target']} | {c['measured']} | {c['verdict']} | {c['note']} |")
    for label, prof in results.get("profile", {}).items():
        if "skipped" in prof:
            out.append(f"\nProfile {label}: skipped ({prof['skipped']})")
            continue
        out.append(
            f"\n**py-spy profile of imagegate, {label}** ({prof['samples']} samples, "
            f"{prof['rps_while_profiled']:.0f} req/s while sampled). Self time:\n"
        )
        out += [f"- {p['pct']:.1f} % `{p['frame']}`" for p in prof["self"][:12]]
        out.append("\nInclusive (imagegate frames):\n")
        ours = [p for p in prof["inclusive"] if p["frame"].startswith("imagegate/")]
        out += [f"- {p['pct']:.1f} % `{p['frame']}`" for p in ours[:12]]
    return "\n".join(out) + "\n"

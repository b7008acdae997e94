"""Derived figures (added latency, ratios against issue 18's targets and, for comparison, issue 5's) and the
Markdown rendering of a run."""

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
    """The images scenario (not a surface row) of that protocol, payload and concurrency."""
    for sc in scenarios:
        if sc.get("surface"):
            continue
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
    """Issue 18's targets first, then issue 5's (kept, labelled as such); each ``n/a`` with a note when a path or
    scenario is missing from the run."""
    checks: list[dict] = []

    def check(issue: int, name: str, measured: str, ok: bool | None, note: str = "") -> None:
        verdict = "n/a" if ok is None else ("PASS" if ok else "MISS")
        checks.append({"issue": issue, "target": name, "measured": measured, "verdict": verdict, "note": note})

    def missing(t: dict | None, *names: str) -> str:
        if t is None:
            return "scenario not in this run"
        gone = [n for n in names if n not in t]
        return f"{' and '.join(gone)} not in this run" if gone else ""

    # Issue 18: 1.5 MB, imagegate >= 100 % of nginx's throughput
    for conc in (16, 64):
        name = f"1.5 MB (openai, {conc} concurrent): imagegate >= 100 % of nginx's throughput"
        t = _find(scenarios, "openai", "large", conc)
        why = missing(t, "imagegate", "nginx")
        if why:
            check(18, name, "not measured", None, why)
            continue
        ig, ng = t["imagegate"]["rps"], t["nginx"]["rps"]
        share = ig / ng if ng else float("inf")
        check(
            18,
            name,
            f"{100 * share:.0f} % ({ig:.0f} vs {ng:.0f} req/s)",
            share >= 1.0,
            "" if share >= 1.0 else f"{100 * (1 - share):.0f} points short",
        )
    # Issue 18: 2 KB, 16 concurrent, against LiteLLM and Portkey
    t = _find(scenarios, "openai", "small", 16)
    for other, factor in (("litellm", 15), ("portkey", 4)):
        label = "LiteLLM" if other == "litellm" else "Portkey"
        name = f"2 KB (openai, 16 concurrent): throughput >= {factor} x {label}"
        why = missing(t, "imagegate", other)
        if why:
            check(18, name, "not measured", None, why)
            continue
        ig, ot = t["imagegate"]["rps"], t[other]["rps"]
        ratio = ig / ot if ot else float("inf")
        check(
            18,
            name,
            f"{ratio:.1f} x ({ig:.0f} vs {ot:.0f} req/s)",
            ratio >= factor,
            "" if ratio >= factor else f"short by {factor / ratio:.2f} x",
        )
    name = "2 KB (openai, 16 concurrent): added p50 <= 1/15 of LiteLLM's"
    why = missing(t, "imagegate", "litellm")
    a_ig = t["imagegate"].get("added_p50_ms") if not why else None
    a_ll = t["litellm"].get("added_p50_ms") if not why else None
    if why or a_ig is None or not a_ll:
        check(18, name, "not measured", None, why or "no added p50 (the direct path is missing)")
    else:
        frac = a_ig / a_ll
        measured = f"{a_ig:.2f} ms vs {a_ll:.2f} ms = 1/{(1 / frac) if frac > 0 else float('inf'):.1f}"
        note = "" if frac <= 1 / 15 else f"{a_ig / (a_ll / 15):.2f} x the allowed added p50"
        check(18, name, measured, frac <= 1 / 15, note)
    # Issue 18: concurrency 1, added p50 <= 0.5 ms
    for protocol in ("openai", "gemini"):
        name = f"concurrency 1 ({protocol}, 2 KB): added p50 <= 0.5 ms"
        t1 = _find(scenarios, protocol, "small", 1)
        why = missing(t1, "imagegate", "direct")
        a = t1["imagegate"].get("added_p50_ms") if not why else None
        if a is None:
            check(18, name, "not measured", None, why or "no added p50")
            continue
        check(18, name, f"{a:.3f} ms", a <= 0.5, "" if a <= 0.5 else f"{a - 0.5:.3f} ms over")
    # Issue 18: 10,000 in flight with the workers needed
    name = "10,000 in flight: < 1 GiB RSS and zero errors, with the workers needed"
    runs = [h for h in hold if h.get("target") == "imagegate" and "peak_rss_mib" in h]
    full = [h for h in runs if h["concurrency"] >= 10_000]
    if not full:
        check(
            18,
            name,
            "not measured",
            None,
            "no hold test of 10,000 (--hold-concurrency)" if runs or hold else "hold test skipped",
        )
    else:
        good = [h for h in full if h["peak_rss_mib"] < 1024 and not sum(h["errors"].values())]
        best = min(good, key=lambda h: h["workers"]) if good else min(full, key=lambda h: sum(h["errors"].values()))
        errs = sum(best["errors"].values())
        others = "; ".join(
            f"{h['workers']} worker(s): {h['peak_rss_mib']:.0f} MiB, {sum(h['errors'].values())} errors"
            for h in full
            if h is not best
        )
        check(
            18, name, f"{best['workers']} worker(s): {best['peak_rss_mib']:.0f} MiB, {errs} errors", bool(good), others
        )
    checks += _issue5_checks(scenarios, hold, cpus)
    return checks


def _issue5_checks(scenarios: list[dict], hold: list[dict], cpus: int) -> list[dict]:
    checks: list[dict] = []

    def check(name: str, measured: str, ok: bool | None, note: str = "") -> None:
        verdict = "n/a" if ok is None else ("PASS" if ok else "MISS")
        checks.append({"issue": 5, "target": name, "measured": measured, "verdict": verdict, "note": note})

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


def _cells(name: str, s: dict, *, p99: bool) -> str:
    """The cells after the path: load gen, req/s, p50, p99, added p50 (and p99), CPU, load gen CPU, errors."""
    errs = str(sum(s["errors"].values())) + (" (no answer in the window)" if not s.get("ok", 1) else "")
    cpu = s["server_cpu_s_per_1000"] if name != "direct" else s["upstream_cpu_s_per_1000"]
    cpu_txt = f"{cpu:.3f}" + (" (upstream)" if name == "direct" else "")
    lg = s.get("loadgen_cpu_s_per_1000")
    lg_txt = "-" if lg is None else f"{lg:.3f} ({lg * s['rps'] / 1000:.2f})"
    added = f"| {_f(s.get('added_p50_ms'), 2)} " + (f"| {_f(s.get('added_p99_ms'), 2)} " if p99 else "")
    return (
        f"{s.get('load_generator', 'raw')} | {_f(s['rps'], 0)} | {_f(s['p50_ms'], 2)} | {_f(s['p99_ms'], 2)} "
        f"{added}| {cpu_txt} | {lg_txt} | {errs} |"
    )


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
    gen = results.get("load_generator", "raw")
    out.append(
        f"Load generator: **{gen}** ("
        + (
            "Debian's wrk, a Lua script; latency percentiles per round from wrk's histogram, the median of the "
            "rounds reported; jobs rows use loadgen.py's job mode"
            if gen == "wrk"
            else "loadgen.py, raw asyncio.Protocol on uvloop; percentiles over every request of the rounds"
        )
        + "). The *load gen* column says which produced each row; *load gen CPU* is its own CPU seconds per 1,000 "
        "requests and, in brackets, the cores it kept busy (near 1.0 per generator thread: it was the limit)."
    )
    for name, why in results.get("skipped", {}).items():
        out.append(f"\n**{name} skipped:** {why}")
    out.append(
        "\n| upstream | image | conc. | path | load gen | req/s | p50 ms | p99 ms | added p50 ms | added p99 ms "
        "| CPU s / 1k req | load gen CPU s / 1k req | errors |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for sc in results["scenarios"]:
        if sc.get("surface"):
            continue
        image = "2 KB" if sc["payload"] == "small" else "1.5 MB"
        for name, s in sc["targets"].items():
            out.append(f"| {sc['protocol']} | {image} | {sc['concurrency']} | {name} | " + _cells(name, s, p99=True))
    rows = [sc for sc in results["scenarios"] if sc.get("surface")]
    if rows:
        out.append(
            "\n**Other surfaces** (2 KB image, OpenAI upstream; the baseline is the direct images call, measured "
            "in the same interleaved rounds; *jobs*: submit with `Prefer: respond-async`, then `GET /v1/jobs/{id}` "
            "until it succeeded, timed from the submit to the answer that holds the result):\n"
        )
        out.append(
            "| surface | conc. | path | load gen | req/s | p50 ms | p99 ms | added p50 ms | CPU s / 1k req "
            "| load gen CPU s / 1k req | errors |"
        )
        out.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for sc in rows:
            for name, s in sc["targets"].items():
                label = name
                if s.get("polls_per_job"):
                    label += f" ({s['polls_per_job']:.1f} polls / job)"
                out.append(f"| {sc['surface']} | {sc['concurrency']} | {label} | " + _cells(name, s, p99=False))
    mem = results.get("memory", {})
    if mem:
        out.append(
            "\nPeak RSS over the throughput runs (VmHWM): "
            + ", ".join(
                f"{k} {v['peak_rss_mib']:.0f} MiB (idle {v['idle_rss_mib']:.0f} MiB"
                + (f", {v['processes']} processes" if v.get("processes", 1) > 1 else "")
                + ")"
                for k, v in mem.items()
            )
            + "."
        )
    if results.get("hold"):
        delay = results.get("config", {}).get("hold_delay_s", 20)
        out.append(f"\n**Hold test** (every request held {delay:g} s by the upstream, all sent at once):\n")
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
    for issue, title in ((18, "Issue 18 targets"), (5, "Issue 5 targets (the earlier ones, kept for comparison)")):
        checks = [c for c in results.get("checks", []) if c.get("issue", 5) == issue]
        if not checks:
            continue
        out.append(f"\n**{title}** (ratios within this run):\n")
        out.append("| target | measured | verdict | note |")
        out.append("|---|---|---|---|")
        for c in checks:
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

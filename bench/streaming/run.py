"""Streaming benchmark: how long a partial image takes from the upstream to the client, and what an open stream
costs the gateway in memory.

- **Relay latency**: ``upstream.py`` stamps ``time.monotonic_ns()`` (one clock for every process on the machine) the
  moment it hands the first partial image to its socket; the client stamps the moment it holds that whole event. The
  same requests go *direct* (client -> upstream) and through *imagegate* (client -> ``imagegate serve`` -> upstream),
  interleaved one by one, so the added latency is the gateway path's p50 minus the direct path's p50 of one run.
- **Memory per open stream**: N streams opened one after another and held open after their first partial image
  (the upstream waits); the gateway process's RSS with them open minus its RSS before, divided by N. (Opening them
  all at once measures the peak of N partial images in flight instead: the served worker keeps freed memory in
  its heap, ``runtime.py``.)

Run: ``.venv/bin/python bench/streaming/run.py`` (about a minute); ``--requests``, ``--streams``,
``--sizes 20000,1500000``. Results: ``bench/streaming/results/streaming.{json,md}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "overhead"))

from procs import Proc, free_port, machine, wait_port  # noqa: E402

from imagegate.testing.server import GatewayProcess  # noqa: E402

BODY = {"model": "gpt-image-1", "prompt": "bench", "stream": True, "partial_images": 2}


async def first_event_at(session: aiohttp.ClientSession, url: str, body: dict) -> int:
    """POST, read until the first whole SSE event is in; return that instant (monotonic ns); drain the rest."""
    async with session.post(url, json=body) as resp:
        assert resp.status == 200, await resp.text()
        buf = bytearray()
        got = 0
        async for chunk in resp.content.iter_any():
            if not got:
                scan = max(0, len(buf) - 1)  # only the new bytes (and one before): linear in the event's size
                buf += chunk
                at = buf.find(b"\n\n", scan)
                while at >= 0 and buf.startswith(b":"):  # keep-alive comments are not the event
                    del buf[: at + 2]
                    at = buf.find(b"\n\n")
                if at >= 0:
                    got = time.monotonic_ns()
                    assert b"partial_image" in buf[:200], bytes(buf[:200])
        return got


def read_stamps(path: Path, offset: int) -> tuple[list[int], int]:
    data = path.read_bytes()[offset:]
    return [int(x) for x in data.split()], offset + len(data)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


async def relay_latency(direct: str, gateway: str, stamps: Path, requests: int) -> dict:
    out: dict[str, list[float]] = {"direct": [], "imagegate": []}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(60)) as session:
        for _warm in range(10):  # connections, caches
            for url in (direct, gateway):
                await first_event_at(session, url, BODY)
        _, offset = read_stamps(stamps, 0)
        for i in range(requests):
            order = [("direct", direct), ("imagegate", gateway)]
            for name, url in order if i % 2 == 0 else order[::-1]:
                got = await first_event_at(session, url, BODY)
                new, offset = read_stamps(stamps, offset)
                assert len(new) == 1, new
                out[name].append((got - new[0]) / 1e6)
    summary = {name: {"p50_ms": pct(v, 0.5), "p90_ms": pct(v, 0.9), "p99_ms": pct(v, 0.99),
                      "mean_ms": statistics.fmean(v), "n": len(v)} for name, v in out.items()}  # fmt: skip
    summary["added_p50_ms"] = summary["imagegate"]["p50_ms"] - summary["direct"]["p50_ms"]
    summary["added_p90_ms"] = summary["imagegate"]["p90_ms"] - summary["direct"]["p90_ms"]
    return summary


async def open_stream_memory(gateway: str, streams: int, rss) -> dict:  # type: ignore[no-untyped-def]
    body = {**BODY, "prompt": "HOLD"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(120),
                                     connector=aiohttp.TCPConnector(limit=0)) as session:  # fmt: skip
        before = rss()
        opened: list[aiohttp.ClientResponse] = []

        async def open_one() -> None:
            resp = await session.post(gateway, json=body)
            buf = bytearray()
            while b"\n\n" not in buf:
                buf += await resp.content.readany()
            opened.append(resp)

        for _ in range(streams):  # one at a time: what an open stream keeps, not the peak of opening many at once
            await open_one()
        await asyncio.sleep(0.5)  # let the gateway settle (buffers freed) before sampling
        held = rss()
        for resp in opened:
            resp.close()
    return {"streams": streams, "rss_before_mib": before / 2**20, "rss_open_mib": held / 2**20,
            "per_stream_kib": (held - before) / streams / 1024}  # fmt: skip


def run_size(size: int, args: argparse.Namespace, workdir: Path) -> dict:
    stamps = workdir / f"stamps-{size}"
    stamps.touch()
    port = free_port()
    argv = [sys.executable, str(HERE / "upstream.py"), "--port", str(port), "--partial-bytes", str(size),
            "--stamp-file", str(stamps)]  # fmt: skip
    up = Proc("upstream", argv, log_path=workdir / f"upstream-{size}.log")
    assert wait_port(port, 30), up.log_tail()
    env = {"OPENAI_API_KEY": "sk-bench", "IMAGEGATE_OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1",
           "IMAGEGATE_PLACEHOLDER": "off"}  # fmt: skip
    gw = GatewayProcess(workdir / f"data-{size}", env=env)
    try:
        gw.wait_ready()

        def rss() -> int:
            return int(Path(f"/proc/{gw.proc.pid}/status").read_text().split("VmRSS:")[1].split()[0]) * 1024

        direct = f"http://127.0.0.1:{port}/v1/images/generations"
        via = gw.url + "/v1/images/generations"
        latency = asyncio.run(relay_latency(direct, via, stamps, args.requests))
        memory = asyncio.run(open_stream_memory(via, args.streams, rss))
        return {"partial_bytes": size, "latency": latency, "memory": memory}
    finally:
        gw.stop()
        up.stop()


def render(result: dict) -> str:
    lines = [
        "# Streaming benchmark", "",
        f"Run {result['run_at']}, command `{result['command']}`. Machine: {result['machine']['cpus']} cores "
        f"({result['machine']['cpu_model']}), the client, the upstream and the gateway on the same cores (load "
        f"average at start {', '.join(f'{x:.2f}' for x in result['machine']['loadavg_at_start'])}): compare within "
        "the run.", "",
        "| partial image | path | p50 ms | p90 ms | p99 ms | n |", "|---|---|---|---|---|---|",
    ]  # fmt: skip
    for r in result["sizes"]:
        for path in ("direct", "imagegate"):
            s = r["latency"][path]
            lines.append(f"| {r['partial_bytes']:,} B | {path} | {s['p50_ms']:.2f} | {s['p90_ms']:.2f} | "
                         f"{s['p99_ms']:.2f} | {s['n']} |")  # fmt: skip
    lines += ["", "| partial image | added p50 ms | added p90 ms | open streams | RSS before MiB | RSS open MiB | "
              "per stream KiB |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in result["sizes"]:
        m, lat = r["memory"], r["latency"]
        lines.append(f"| {r['partial_bytes']:,} B | {lat['added_p50_ms']:.2f} | {lat['added_p90_ms']:.2f} | "
                     f"{m['streams']} | {m['rss_before_mib']:.1f} | {m['rss_open_mib']:.1f} | "
                     f"{m['per_stream_kib']:.1f} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200, help="measured requests per path and size")
    parser.add_argument("--streams", type=int, default=200, help="streams held open for the memory figure")
    parser.add_argument("--sizes", default="20000,1500000", help="partial image sizes in bytes")
    args = parser.parse_args()
    result = {"run_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "command": " ".join(["python", *sys.argv]),
              "machine": machine(), "sizes": []}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            result["sizes"].append(run_size(size, args, Path(tmp)))
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "streaming.json").write_text(json.dumps(result, indent=2))
    (out / "streaming.md").write_text(render(result))
    print(render(result))


if __name__ == "__main__":
    main()

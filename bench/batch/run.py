"""Batch benchmark: N-line batches through the emulated path (``imagegate serve`` -> the pipeline -> a fast fake
Gemini upstream), throughput and the gateway's peak memory, for several file sizes side by side.

Memory must not grow with the file: the input is streamed from disk and the output appended as lines finish, so
peak RSS at 10,000 lines should match peak RSS at 1,000. Each size gets a fresh gateway (its VmHWM is its own).

    .venv/bin/python bench/batch/run.py                      # 1,000 and 10,000 lines, concurrency 32
    .venv/bin/python bench/batch/run.py --lines 200 --lines 2000 --concurrency 16   # smoke run

Results: bench/batch/results/batch.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "overhead"))

from procs import Proc, free_port, wait_port, wait_ready  # noqa: E402

ROOT = HERE.parents[1]
GEN = "/v1/images/generations"
MODEL = "gemini/gemini-3-pro-image-preview"


def write_input(path: Path, lines: int) -> None:
    with open(path, "w") as fh:
        for i in range(lines):
            body = {"model": MODEL, "prompt": f"batch benchmark image {i}", "response_format": "b64_json"}
            fh.write(json.dumps({"custom_id": f"line-{i}", "method": "POST", "url": GEN, "body": body}) + "\n")


def run_one(lines: int, concurrency: int, upstream_url: str, work: Path) -> dict:
    data = work / f"data-{lines}"
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "GEMINI_API_KEY": "bench-key",
        "IMAGEGATE_GEMINI_BASE_URL": upstream_url,
        "IMAGEGATE_PLACEHOLDER": "off",
        "IMAGEGATE_BATCH_PROVIDER_MODE": "0",  # the emulated path: every line through the pipeline
        "IMAGEGATE_BATCH_CONCURRENCY": str(concurrency),
        "IMAGEGATE_BATCH_MAX_LINES": str(max(lines, 50_000)),
    }
    argv = [sys.executable, "-m", "imagegate", "serve", "--port", str(port), "--data-dir", str(data)]
    gateway = Proc("imagegate", argv, env=env, cwd=str(ROOT), log_path=work / f"gateway-{lines}.log")
    base = f"http://127.0.0.1:{port}"
    try:
        if not wait_ready(gateway, base + "/health", 60):
            raise RuntimeError(gateway.log_tail())
        client = httpx.Client(base_url=base + "/v1", timeout=600)
        warm = client.post(
            "/images/generations", json={"model": MODEL, "prompt": "warm", "response_format": "b64_json"}
        )
        warm.raise_for_status()
        rss_ready = gateway.peak_rss_bytes()
        src = work / f"input-{lines}.jsonl"
        write_input(src, lines)
        with open(src, "rb") as fh:
            up = client.post("/files", files={"file": ("input.jsonl", fh)}, data={"purpose": "batch"})
        up.raise_for_status()
        cpu0 = gateway.cpu_seconds()
        t0 = time.perf_counter()
        batch = client.post(
            "/batches", json={"input_file_id": up.json()["id"], "endpoint": GEN, "completion_window": "24h"}
        ).json()
        validated_s = time.perf_counter() - t0
        assert batch["status"] == "validating", batch
        while batch["status"] not in ("completed", "failed", "cancelled"):
            time.sleep(0.05)  # polling for the end state; the figure is the batch's own timestamps as well
            batch = client.get(f"/batches/{batch['id']}").json()
        total_s = time.perf_counter() - t0
        cpu_s = gateway.cpu_seconds() - cpu0
        counts = batch["request_counts"]
        out = client.get(f"/files/{batch['output_file_id']}/content").content.splitlines()
        unique = len({json.loads(x)["custom_id"] for x in out})
        return {
            "lines": lines,
            "concurrency": concurrency,
            "input_bytes": src.stat().st_size,
            "output_lines": len(out),
            "unique_custom_ids": unique,
            "completed": counts["completed"],
            "failed": counts["failed"],
            "validate_and_estimate_s": round(validated_s, 3),
            "total_s": round(total_s, 2),
            "lines_per_s": round(lines / total_s, 1),
            "gateway_cpu_s": round(cpu_s, 2),
            "cpu_ms_per_line": round(cpu_s * 1000 / lines, 3),
            "peak_rss_ready_mb": round(rss_ready / 2**20, 1),
            "peak_rss_mb": round(gateway.peak_rss_bytes() / 2**20, 1),
        }
    finally:
        gateway.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, action="append", help="batch sizes (repeatable; default 1000, 10000)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    sizes = args.lines or [1000, 10_000]
    with tempfile.TemporaryDirectory(prefix="ig-batch-bench-") as tmp:
        work = Path(tmp)
        up_port = free_port()
        upstream = Proc(
            "upstream",
            [sys.executable, str(HERE.parent / "overhead" / "upstream.py"), "--port", str(up_port)],
            log_path=work / "upstream.log",
        )
        try:
            if not wait_port(up_port, 30):
                raise RuntimeError(upstream.log_tail())
            results = [run_one(n, args.concurrency, f"http://127.0.0.1:{up_port}", work) for n in sizes]
        finally:
            upstream.stop()
    meta = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, shared with other jobs",
        "command": " ".join(sys.argv),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "batch.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    cols = [
        "lines",
        "lines_per_s",
        "total_s",
        "validate_and_estimate_s",
        "cpu_ms_per_line",
        "peak_rss_ready_mb",
        "peak_rss_mb",
        "completed",
        "failed",
        "unique_custom_ids",
    ]
    md = [
        f"Run {meta['when']}, `{meta['command']}`, Python {meta['python']}, {meta['machine']}.",
        "",
        "| " + " | ".join(cols) + " |",
        "|" + "---|" * len(cols),
    ]
    md += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in results]
    (args.out / "batch.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()

"""The model page with 1,000,000 attempts in the request log: latency (p50/p99) and weight.

    .venv/bin/python bench/web/model_page.py [--rows 1000000] [--requests 2000] [--out bench/web/results.json]

1. Fills a fresh SQLite request log with ``--rows`` attempts over 30 days (3 models x 4 providers) through the log's
   own bulk path (``Database.write_log``), and times the rollup's first full fold-in and an incremental one.
2. Starts ``imagegate serve`` on that data dir and times ``--requests`` sequential GETs of the Nano Banana Pro page
   (HTML and markdown) over one keep-alive connection, side by side with ``GET /v1/models/{id}/providers``
   (which still scans the raw log: the cost the rollup avoids).
3. Weighs the page: HTML + CSS + JS, before images.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from imagegate.store import perf_daily  # noqa: E402
from imagegate.store.db import Database, run_migrations  # noqa: E402
from imagegate.store.request_log import ATTEMPT_COLUMNS  # noqa: E402
from imagegate.testing.server import GatewayProcess  # noqa: E402

MODELS = ["gemini-3-pro-image-preview", "gemini-2.5-flash-image", "gpt-image-1"]
PROVIDERS = ["gemini", "vertex", "replicate", "fal"]
PAGE = "/models/google/gemini-3-pro-image-preview"


def fill(db: Database, rows: int, seed: int = 1, start_index: int = 0) -> float:
    rng = random.Random(seed)
    now = datetime.now(UTC).timestamp()
    stamp = db.log_time
    t0 = time.perf_counter()
    batch: list[tuple] = []
    for i in range(start_index, start_index + rows):
        latency = rng.lognormvariate(9.9, 0.5)
        values = (
            f"req_{i}", stamp(now - rng.random() * 29 * 86400), rng.choice(MODELS), rng.choice(PROVIDERS), "m",
            "success" if rng.random() < 0.85 else "ProviderTimeout", 200, None, latency, latency * 0.97, 134000,
            False, 1, 1_500_000, False, None,
        )  # fmt: skip
        batch.append(values)
        if len(batch) == 20_000:
            db.write_log([], batch)
            batch.clear()
    if batch:
        db.write_log([], batch)
    assert len(ATTEMPT_COLUMNS) == 16
    return time.perf_counter() - t0


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round((len(s) - 1) * q / 100)))]


def timed_gets(client: httpx.Client, path: str, n: int) -> dict[str, float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get(path)
        out.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, (path, r.status_code)
    return {"n": n, "p50_ms": round(pct(out, 50), 2), "p99_ms": round(pct(out, 99), 2),
            "mean_ms": round(statistics.fmean(out), 2), "max_ms": round(max(out), 2)}  # fmt: skip


async def uncached_renders(data_dir: Path, n: int) -> dict[str, float]:
    """The model page rendered from scratch every time (the rendered-page cache emptied before each request):
    what the first view after each rollup refresh costs. In process, through the ASGI app."""
    from imagegate.api.app import create_app
    from imagegate.settings import Settings

    app = create_app(Settings.load(env={}, data_dir=data_dir))
    async with app.router.lifespan_context(app):
        services = app.state.services
        await services.perf.refresh()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            out = []
            for _ in range(n):
                services.pages._pages.clear()
                t0 = time.perf_counter()
                r = await client.get(PAGE)
                out.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200
    return {"n": n, "p50_ms": round(pct(out, 50), 2), "p99_ms": round(pct(out, 99), 2),
            "mean_ms": round(statistics.fmean(out), 2)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "web" / "results.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="imagegate-web-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        url = f"sqlite:///{data_dir}/imagegate.db"
        run_migrations(url)
        db = Database(url)
        fill_s = fill(db, args.rows)
        t0 = time.perf_counter()
        folded = perf_daily.refresh(db.engine)
        full_refresh_s = time.perf_counter() - t0
        fill(db, 10_000, seed=2, start_index=args.rows)
        t0 = time.perf_counter()
        perf_daily.refresh(db.engine)
        incremental_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        raw_scan = db.attempt_samples(MODELS[0], datetime.now(UTC) - timedelta(days=30))
        raw_scan_s = time.perf_counter() - t0
        db.dispose()
        proc = GatewayProcess(data_dir, env={"IMAGEGATE_RUNTIME_TUNING": "on"})
        try:
            proc.wait_ready(timeout=120)
            with httpx.Client(base_url=proc.url, timeout=60) as client:
                # the first rollup refresh of the served process has run once the page shows figures
                for _ in range(600):
                    if "Total Requests: " in client.get(PAGE + ".md").text:
                        break
                    time.sleep(0.1)  # waiting for readiness, not timing
                timed_gets(client, PAGE, 50)  # warm-up
                html = timed_gets(client, PAGE, args.requests)
                md = timed_gets(client, PAGE + ".md", args.requests)
                listing = timed_gets(client, "/models", args.requests // 4)
                scan = timed_gets(client, "/v1/models/gemini-3-pro-image-preview/providers", 5)
                body = client.get(PAGE).content
                css = client.get("/static/site.css").content
                js = client.get("/static/site.js").content
                favicon = client.get("/static/favicon.svg").content
        finally:
            proc.stop()
        uncached = asyncio.run(uncached_renders(data_dir, max(50, args.requests // 10)))
    result = {
        "command": "python bench/web/model_page.py " + " ".join(sys.argv[1:]),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}; "
        "shared by several jobs (noisy)",
        "attempt_rows": args.rows + 10_000,
        "fill_s": round(fill_s, 1),
        "rollup_first_refresh_s": round(full_refresh_s, 2),
        "rollup_first_refresh_rows": folded,
        "rollup_incremental_10k_s": round(incremental_s, 3),
        "raw_scan_one_model_s": round(raw_scan_s, 2),
        "raw_scan_rows": len(raw_scan),
        "model_page_html": html,
        "model_page_md": md,
        "models_list_html": listing,
        "model_page_html_uncached_in_process": uncached,
        "providers_api_raw_scan": scan,
        "weight_bytes": {
            "html": len(body),
            "css": len(css),
            "js": len(js),
            "favicon": len(favicon),
            "total_before_images": len(body) + len(css) + len(js) + len(favicon),
        },  # fmt: skip
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""The web catalog in headless Chromium (Debian's, driven by Playwright) against a real ``imagegate serve``:
every page renders without console errors or failed requests, a crawl from ``/`` reaches every page with no
broken internal link, the copy button copies the code, screenshots at 1280 and 390 px; and the code examples taken
from the served model page run (Python openai SDK, Node openai SDK, cURL) and return an image.

One browser and one gateway per module. Screenshots go to ``artifacts/web`` (git-ignored), or ``$IMAGEGATE_ARTIFACTS``.
"""

from __future__ import annotations

import io
import os
import random
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page

from imagegate.catalog import load_catalog
from imagegate.store.db import Database, run_migrations
from imagegate.store.request_log import ATTEMPT_COLUMNS
from imagegate.store.stats import provider_stats
from imagegate.web.model_data import model_url
from tests.helpers_server import ServerProcess
from tests.web import browser as browser_support

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = browser_support.ARTIFACTS / "web"
JS_DIR = ROOT / "tests" / "js"
MODEL = "/models/google/gemini-3-pro-image-preview"
MD_LINK = re.compile(r"\]\(([^)\s]+)\)|(?<![(\w])(https?://[^\s)]+)")
KEY = "sk-any"  # the test gateway has no keys configured: any key is accepted


def seed_request_log(data_dir: Path) -> Database:
    """30 days of attempts at Nano Banana Pro on three providers, written before the gateway starts."""
    data_dir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{data_dir}/imagegate.db"
    run_migrations(url)
    db = Database(url)
    rng = random.Random(7)
    now = datetime.now(UTC)
    profile = {"gemini": (9.9, 0.93), "vertex": (10.1, 0.7), "fal": (10.6, 0.4)}
    rows = []
    for i in range(3000):
        provider = rng.choice(list(profile))
        mu, ok = profile[provider]
        day = rng.randrange(29)  # inside both the rolling 30 days and the rollup's 30 UTC days
        latency = rng.lognormvariate(mu + 0.01 * day, 0.35)
        values = {
            "request_id": f"req_seed_{i}", "created_at": now - timedelta(days=day, seconds=rng.randrange(600)),
            "model": "gemini-3-pro-image-preview", "provider": provider, "provider_model_id": "m",
            "outcome": "success" if rng.random() < ok else "ProviderTimeout", "status": None, "error": None,
            "latency_ms": latency, "ttfb_ms": latency * 0.98, "cost_micros": 0, "hedged": False, "image_count": 1,
            "image_bytes": 1, "possibly_billed": False, "limit_hit": None,
        }  # fmt: skip
        rows.append(tuple(db.log_time(values[c]) if c == "created_at" else values[c] for c in ATTEMPT_COLUMNS))
    db.write_log([], rows)
    return db


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("web-gw") / "data"
    seed_request_log(data_dir).dispose()
    proc = ServerProcess(data_dir, env={"IMAGEGATE_PERF_REFRESH_S": "0.5"})
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with browser_support.chromium() as b:
        yield b


class Watched:
    """A page that records console errors, failed requests and error responses."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.problems: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        # ERR_ABORTED: the browser itself dropped a request (the favicon, when the crawl navigates on), not a failure
        page.on(
            "requestfailed",
            lambda r: (
                None if "ERR_ABORTED" in (r.failure or "") else self.problems.append(f"failed: {r.url} {r.failure}")
            ),
        )
        page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))


def expected_pages() -> set[str]:
    pages = {"/", "/index.md", "/models", "/models.md", "/llms.txt"}
    for m in load_catalog([]).models():
        base = model_url(m)
        for p in (base, base + "/providers", base + "/api"):
            pages |= {p, p + ".md"}
        pages.add(base + "/llms.txt")
    return pages


def test_crawl_from_home_reaches_every_page_cleanly(gateway: ServerProcess, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = Watched(context.new_page())
    origin = gateway.url
    queue, seen, visited = ["/"], {"/"}, set()
    broken: list[str] = []

    def follow(target: str) -> None:
        target = urldefrag(target)[0]
        if not target.startswith(origin):
            return  # another host (a provider's price page)
        rel = target[len(origin) :] or "/"
        if rel in ("/v1", "/openai/v1"):
            return  # the API's base URL, printed as text in the markdown: not a page
        if rel not in seen:
            seen.add(rel)
            queue.append(rel)

    while queue:
        path = queue.pop(0)
        url = origin + path
        bare = urlsplit(path).path  # "/arena.md?task=x" is markdown too
        is_html = not (bare.endswith(".md") or bare.endswith(".txt") or bare.startswith(("/static/", "/v1/")))
        if not is_html:
            r = context.request.get(url)
            if r.status != 200:
                broken.append(f"{path}: {r.status}")
            visited.add(urlsplit(path).path)
            if r.headers.get("content-type", "").startswith("text/markdown"):
                prose = re.sub(r"```.*?```|`[^`]*`", "", r.text(), flags=re.S)  # code is not links
                for m in MD_LINK.finditer(prose):
                    follow(urljoin(url, m.group(1) or m.group(2)))
            continue
        before = len(page.problems)
        response = page.page.goto(url)
        assert response is not None
        if response.status != 200:
            broken.append(f"{path}: {response.status}")
        page.page.wait_for_load_state("load")
        assert page.problems[before:] == [], (path, page.problems[before:])
        visited.add(urlsplit(path).path)
        for href in page.page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))"):
            follow(urljoin(url, href))
    context.close()
    assert broken == []
    missing = expected_pages() - visited
    assert missing == set(), missing


def test_copy_button_copies_the_code(gateway: ServerProcess, browser: Browser) -> None:
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = Watched(context.new_page())
    page.page.goto(gateway.url + MODEL)
    for target in ("code-generation-python", "code-editing-javascript"):
        page.page.click(f'button.copy[data-copy-target="{target}"]')
        page.page.wait_for_function(
            f'document.querySelector(\'button[data-copy-target="{target}"]\').textContent === "Copied"'
        )
        copied = page.page.evaluate("navigator.clipboard.readText()")
        assert copied == page.page.inner_text(f"#{target}") and "gemini-3-pro-image-preview" in copied
    assert page.problems == []
    context.close()


# ----------------------------------------------------------------------------------- the code examples, run


@pytest.fixture(scope="module")
def snippets(gateway: ServerProcess, browser: Browser) -> dict[str, str]:
    """The code examples as the served model page shows them (what a reader copies)."""
    page = browser.new_page()
    page.goto(gateway.url + MODEL)
    ids = page.eval_on_selector_all("pre[id^=code-]", "els => els.map(e => e.id)")
    out = {i: page.inner_text(f"#{i}") for i in ids}
    page.close()
    assert set(out) == {f"code-{mode}-{lang}" for mode in ("generation", "editing")
                        for lang in ("curl", "javascript", "python")}  # fmt: skip
    return out


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    Image.new("RGB", (64, 64), (200, 120, 40)).save(tmp_path / "source.png")
    return tmp_path


def assert_image_url(output: str) -> None:
    url = [line for line in output.strip().splitlines() if line.startswith("http")][-1]
    r = httpx.get(url, timeout=30)
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/")
    assert Image.open(io.BytesIO(r.content)).size[0] > 0


def run(argv: list[str], cwd: Path) -> str:
    env = {**os.environ, "IMAGEGATE_API_KEY": KEY}
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


@pytest.mark.parametrize("mode", ["generation", "editing"])
def test_python_example_returns_an_image(snippets: dict[str, str], workdir: Path, mode: str) -> None:
    script = workdir / "example.py"
    script.write_text(snippets[f"code-{mode}-python"])
    assert_image_url(run([sys.executable, str(script)], workdir))


@pytest.mark.parametrize("mode", ["generation", "editing"])
def test_javascript_example_returns_an_image(snippets: dict[str, str], workdir: Path, mode: str) -> None:
    assert (JS_DIR / "node_modules" / "openai").is_dir(), "run: npm install --prefix tests/js --no-audit --no-fund"
    script = JS_DIR / f"example-{mode}-{os.getpid()}.mjs"  # inside tests/js, so "openai" resolves
    script.write_text(snippets[f"code-{mode}-javascript"])
    try:
        assert_image_url(run([shutil.which("node") or "node", str(script)], workdir))
    finally:
        script.unlink()


@pytest.mark.parametrize("mode", ["generation", "editing"])
def test_curl_example_returns_an_image(snippets: dict[str, str], workdir: Path, mode: str) -> None:
    out = run(["bash", "-c", snippets[f"code-{mode}-curl"] + " -sS --fail-with-body"], workdir)
    import json

    assert_image_url(json.loads(out)["data"][0]["url"])


def test_performance_section_shows_the_logs_figures(gateway: ServerProcess) -> None:
    """The page's figures are the request log's (through the rollup), within one 2 % histogram bucket."""
    db = Database(f"sqlite:///{gateway.data_dir}/imagegate.db")
    try:
        raw = {r["provider"]: r for r in provider_stats(db, "gemini-3-pro-image-preview",
                                                        datetime.now(UTC) - timedelta(days=30))}  # fmt: skip
    finally:
        db.dispose()
    md = httpx.get(gateway.url + MODEL + ".md").text
    perf = md.split("## Performance Metrics", 1)[1].split("## Arena Benchmarks", 1)[0]
    for provider in ("gemini", "vertex", "fal"):
        block = perf.split(f"### {provider}\n", 1)[1].split("###", 1)[0]
        requests = int(re.search(r"Total Requests: (\d+)", block).group(1))  # type: ignore[union-attr]
        p50 = float(re.search(r"\(p50\): (\d+)ms", block).group(1))  # type: ignore[union-attr]
        assert requests == raw[provider]["requests"]  # the examples' own requests went to the placeholder
        assert abs(p50 - raw[provider]["latency_p50_ms"]) <= 0.021 * raw[provider]["latency_p50_ms"] + 1
    html = httpx.get(gateway.url + MODEL).text
    assert html.count('<svg class="chart"') >= 3  # seeded providers (+ the placeholder once the examples' rows are in)


@pytest.mark.parametrize("width", [1280, 390])
def test_screenshots(gateway: ServerProcess, browser: Browser, width: int) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": width, "height": 900}, device_scale_factor=1)
    page = Watched(context.new_page())
    for name, path in (("model", MODEL), ("models", "/models"), ("providers", MODEL + "/providers"),
                       ("api", MODEL + "/api"), ("home", "/")):  # fmt: skip
        page.page.goto(gateway.url + path)
        shot = ARTIFACTS / f"{name}-{width}.png"
        page.page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        overflow = page.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways at {width} px"
    assert page.problems == []
    context.close()

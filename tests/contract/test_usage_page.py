"""The usage page (``/usage``, ``/usage.md``) on a real gateway with real spend: the chart, the totals, the biggest
requests and the remaining budgets; the master key sees every key, another key only itself; looked at in Chromium."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest

from imagegate.testing.fleet import Fleet, ThreadedFleet
from tests.helpers_server import ServerProcess
from tests.web import browser as browser_support

MASTER = "ig-usage-master-key-0123456789abcdef"
BODY = {
    "model": "gemini-3-pro-image-preview",
    "prompt": "a lighthouse",
    "size": "1024x1024",
    "response_format": "b64_json",
}
ARTIFACTS = browser_support.ARTIFACTS / "usage"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    fleet = ThreadedFleet(Fleet(workdir=tmp_path_factory.mktemp("fleet"), providers=("gemini",)))
    fleet.start()
    env = {**fleet.fleet.env(), "IMAGEGATE_PLACEHOLDER": "off", "IMAGEGATE_MASTER_KEY": MASTER}
    proc = ServerProcess(tmp_path_factory.mktemp("usage") / "data", env=env)
    try:
        proc.wait_ready()
        keys = {}
        for name, body in (("alpha", {"budget": {"usd": 5.0, "period": "month"}}), ("beta", {})):
            r = httpx.post(proc.url + "/v1/admin/keys", json={"name": name, **body}, headers=bearer(MASTER))
            keys[name] = r.json()
        for name, n in (("alpha", 1), ("alpha", 3), ("beta", 2)):
            r = httpx.post(
                proc.url + "/v1/images/generations", json={**BODY, "n": n}, headers=bearer(keys[name]["key"])
            )
            assert r.status_code == 200, r.text
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the request log is written off the request path
            spend = httpx.get(proc.url + "/v1/admin/spend", params={"group_by": "key"}, headers=bearer(MASTER)).json()
            if sum(g["requests"] for g in spend["data"]) >= 3:
                break
            time.sleep(0.1)  # polling for the log writer, not timing a result
        yield {"server": proc, "keys": keys}
    finally:
        proc.stop()
        fleet.stop()


def test_usage_needs_a_key(site: dict) -> None:
    assert httpx.get(site["server"].url + "/usage").status_code == 401


def test_master_sees_every_key_with_chart_budgets_and_biggest_requests(site: dict) -> None:
    url, keys = site["server"].url, site["keys"]
    html = httpx.get(url + "/usage", headers=bearer(MASTER)).text
    assert "<svg" in html and html.count("<rect") >= 1
    assert keys["alpha"]["id"] in html and keys["beta"]["id"] in html
    assert "Remaining budgets" in html and "alpha" in html
    by_key = httpx.get(url + "/usage?by=key", headers=bearer(MASTER)).text
    assert re.search(r"<title>\d{4}-\d\d-\d\d alpha \(" + keys["alpha"]["id"] + r"\): \$", by_key)
    md = httpx.get(url + "/usage.md?by=provider", headers=bearer(MASTER))
    assert md.headers["content-type"].startswith("text/markdown")
    text = md.text
    assert "## Spend per day by provider" in text and "| gemini |" in text
    assert "## Remaining budgets" in text and keys["alpha"]["id"] in text and "## Biggest requests" in text
    biggest = text.split("## Biggest requests")[1]
    assert biggest.index(keys["alpha"]["id"]) < biggest.index(keys["beta"]["id"])  # n=3 costs the most
    assert httpx.get(url + "/usage?by=colour", headers=bearer(MASTER)).status_code == 400
    assert httpx.get(url + "/usage?days=0", headers=bearer(MASTER)).status_code == 400


def test_a_key_sees_only_itself(site: dict) -> None:
    url, keys = site["server"].url, site["keys"]
    md = httpx.get(url + "/usage.md?by=key", headers=bearer(keys["beta"]["key"])).text
    assert keys["beta"]["id"] in md and keys["alpha"]["id"] not in md
    assert "No key with a budget." in md


def test_usage_page_in_chromium(site: dict) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with browser_support.chromium() as browser:
        for width, name in ((1200, "usage-desktop"), (375, "usage-phone")):
            ctx = browser.new_context(viewport={"width": width, "height": 900}, extra_http_headers=bearer(MASTER))
            page = ctx.new_page()
            page.goto(site["server"].url + "/usage?by=key")
            assert page.locator("svg.chart rect").count() >= 2
            assert page.locator("h2", has_text="Remaining budgets").is_visible()
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"horizontal scroll at {width}px"
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            ctx.close()

"""A gateway with API keys (offline placeholder): the playground asks for a key once and keeps it in an HttpOnly
session cookie, never in a page; forms are CSRF-protected; the gallery API publishes, lists, pages and removes."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest

from tests.helpers_server import ServerProcess
from tests.web.browser import Watch, chromium, screenshot

MASTER = "mk-master-9f3c2a71d4"
USER = "uk-user-5b8e0c66aa"
OTHER = "uk-other-1d2e3f4a5b"
MODEL = "gemini-3-pro-image-preview"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {"IMAGEGATE_MASTER_KEY": MASTER, "IMAGEGATE_API_KEYS": f"{USER},{OTHER}"}
    proc = ServerProcess(tmp_path_factory.mktemp("pgkeys") / "data", env=env)
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as b:
        yield b


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_key_prompt_then_generate_without_the_key_in_any_page(browser, gateway: ServerProcess) -> None:  # type: ignore[no-untyped-def]
    watch = Watch(origin=gateway.url)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    watch.attach(context)
    page = watch.page(context)
    page.goto(f"{gateway.url}/playground?model={MODEL}")
    assert page.locator("#pg-form").count() == 0
    page.locator("#api_key").wait_for()
    screenshot(page, "playground-key", 1280)
    page.fill("#api_key", "not-a-key")
    page.click("#pg-key button[type=submit]")
    page.locator("#pg-key [role=alert]").wait_for()
    assert "Invalid API key" in page.inner_text("#pg-key [role=alert]")
    page.fill("#api_key", USER)
    page.click("#pg-key button[type=submit]")
    page.locator("#pg-form").wait_for()
    assert MODEL in page.url and USER not in page.url

    page.fill("#pg-prompt", "a paper boat on a puddle")
    page.locator(".pg-est-table").wait_for()
    page.click("#pg-run")
    page.locator(".pg-done").wait_for()
    assert "Placeholder" in page.inner_text(".pg-provider")
    assert "$IMAGEGATE_API_KEY" in page.text_content("#pg-code-curl")
    page.click(".pg-images button:has-text('Publish to the gallery')")
    page.locator("#pg-history .pg-badge:has-text('published')").wait_for()
    for path in ("/playground", f"/playground?model={MODEL}", "/playground.md", "/gallery", "/gallery.md"):
        page.goto(gateway.url + path)
        assert USER not in page.content(), path
    cookies = context.cookies()
    session = next(c for c in cookies if c["name"] == "imagegate_session")
    assert session["httpOnly"] and session["sameSite"] == "Lax"
    assert page.evaluate("document.cookie") == ""  # not readable from scripts
    payload = base64.b64decode(session["value"].split(".", 1)[0] + "==")  # signed, and the key inside is encrypted
    assert USER.encode() not in payload and b"api_key" in payload
    # The key typed once is what the playground calls the API with: its entry belongs to that key.
    listed = httpx.get(f"{gateway.url}/v1/gallery", headers=bearer(OTHER)).json()["data"]
    assert any(i["prompt"] == "a paper boat on a puddle" for i in listed)
    assert USER not in gateway.output() and "not-a-key" not in gateway.output()
    watch.assert_clean()
    context.close()


def test_state_changing_forms_need_the_csrf_token(gateway: ServerProcess) -> None:
    with httpx.Client(base_url=gateway.url) as client:
        page = client.get("/playground").text
        token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        refused = client.post("/playground/key", data={"api_key": USER})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "CSRF_FAILED"
        foreign = client.post(
            "/playground/key", data={"api_key": USER, "csrf_token": token}, headers={"Origin": "https://evil.example"}
        )
        assert foreign.status_code == 403
        ok = client.post("/playground/key", data={"api_key": USER, "csrf_token": token})
        assert ok.status_code == 303
        # Signing in rotates the token: the old one no longer works.
        stale = client.post("/playground/estimate", data={"csrf_token": token, "model": MODEL, "prompt": "x"})
        assert stale.status_code == 403
    with httpx.Client(base_url=gateway.url) as anonymous:
        anonymous.get("/playground")
        assert anonymous.post("/playground", data={"prompt": "x", "model": MODEL}).status_code == 403


def test_gallery_api_publish_list_page_and_remove(gateway: ServerProcess) -> None:
    with httpx.Client(base_url=gateway.url, timeout=30) as c:
        assert c.get("/v1/gallery").status_code == 401
        made = c.post(
            "/v1/images/generations",
            headers=bearer(USER),
            json={"model": MODEL, "prompt": "a teal teapot", "response_format": "url"},
        ).json()
        url = made["data"][0]["url"]
        bad = c.post(
            "/v1/gallery",
            headers=bearer(USER),
            json={"image_url": "https://example.com/x.png", "prompt": "p", "model": MODEL},
        )
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "image_url"
        missing = c.post("/v1/gallery", headers=bearer(USER), json={"image_url": url, "model": MODEL})
        assert missing.status_code == 400 and missing.json()["error"]["param"] == "prompt"
        unknown = c.post("/v1/gallery", headers=bearer(USER), json={"image_url": url, "prompt": "p", "model": "nope"})
        assert unknown.status_code == 404
        ids = []
        for i in range(3):
            entry = c.post(
                "/v1/gallery",
                headers=bearer(USER),
                json={"image_url": url, "prompt": f"a teal teapot {i}", "model": "nano-banana-pro"},
            )
            assert entry.status_code == 201, entry.text
            body = entry.json()
            assert body["model"] == MODEL and body["thumb_url"].endswith(".webp")
            thumb = c.get(body["thumb_url"])
            assert thumb.headers["content-type"] == "image/webp"
            ids.append(body["id"])
        # Pages of 2 through everything for this model: curated catalog examples first, then the published ones.
        seen: list[dict] = []
        cursor = None
        while True:
            params = {"model": MODEL, "limit": 2, **({"cursor": cursor} if cursor else {})}
            body = c.get("/v1/gallery", params=params, headers=bearer(OTHER)).json()
            seen += body["data"]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == body["total"] and len({i["id"] for i in seen}) == len(seen)
        assert set(ids) <= {i["id"] for i in seen}
        curated = [i for i in seen if i["source"] == "curated"]
        assert curated and all(i["thumb_url"].endswith(".webp") and i["prompt"] for i in curated)
        assert c.get(curated[0]["thumb_url"]).headers["content-type"] == "image/webp"
        only = c.get("/v1/gallery", params={"source": "published"}, headers=bearer(OTHER)).json()["data"]
        assert {i["source"] for i in only} == {"published"}
        assert c.get("/v1/gallery", params={"cursor": "x"}, headers=bearer(USER)).status_code == 400
        other_model = c.get("/v1/gallery", params={"model": "gpt-image-1"}, headers=bearer(USER)).json()["data"]
        assert all(i["model"] == "gpt-image-1" for i in other_model)
        # Another key may not remove it; its publisher may; the master key may remove any.
        assert c.delete(f"/v1/gallery/{ids[0]}", headers=bearer(OTHER)).status_code == 403
        assert c.delete(f"/v1/gallery/{ids[0]}", headers=bearer(USER)).json()["deleted"] is True
        assert c.delete(f"/v1/gallery/{ids[1]}", headers=bearer(MASTER)).status_code == 200
        assert c.delete(f"/v1/gallery/{ids[1]}", headers=bearer(MASTER)).status_code == 404
        left = {i["id"] for i in c.get("/v1/gallery", headers=bearer(USER)).json()["data"]}
        assert ids[2] in left and ids[0] not in left and ids[1] not in left
        hostile = "<img src=x onerror=alert(1)> **bold** [link](javascript:x)"
        made = c.post("/v1/gallery", headers=bearer(USER), json={"image_url": url, "prompt": hostile, "model": MODEL})
        assert made.status_code == 201
        page = c.get("/gallery").text
        assert "<img src=x onerror" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
        assert "\\<img" in c.get("/gallery.md").text and "[link](javascript" not in c.get("/gallery.md").text
        md = c.get(f"/models/google/{MODEL}/gallery.md")
        assert md.status_code == 200 and "a teal teapot 2" in md.text
        assert c.get("/models/openai/gemini-3-pro-image-preview/gallery").status_code == 404

"""Voted arena battles in the gallery through a real gateway process (placeholder provider): ``GET /v1/gallery``
with ``source=competition`` and ``competition=``, and the /gallery page with its markdown twin."""

from __future__ import annotations

import html
from collections.abc import Iterator

import httpx
import pytest

from tests.helpers_server import ServerProcess

KEY = "sk-user-arena-gallery"
COMP, TITLE = "candid-street-photography", "Candid Street Photography"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(
        tmp_path_factory.mktemp("arena-gallery") / "data",
        env={"IMAGEGATE_API_KEYS": KEY, "IMAGEGATE_ARENA_SIZE": "256x256"},
    )
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def user(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60) as c:
        yield c


def _battle(user: httpx.Client) -> dict:
    r = user.post("/v1/arena/battles", json={"task": "text-to-image", "competition": COMP})
    assert r.status_code == 200, r.text
    return r.json()


def test_voted_battle_images_are_in_the_gallery_and_blind_ones_are_not(
    server: ServerProcess, user: httpx.Client
) -> None:
    blind, battle = _battle(user), _battle(user)
    voted = user.post(f"/v1/arena/battles/{battle['id']}/vote", json={"winner": "a"})
    assert voted.status_code == 200 and voted.json()["counted"] is True, voted.text
    names = voted.json()

    body = user.get("/v1/gallery", params={"source": "competition"}).json()
    items = {i["id"]: i for i in body["data"]}
    for side in ("a", "b"):
        item = items[f"{battle['id']}-{side}"]
        assert item["source"] == "competition" and item["title"] == TITLE and item["competition"] == COMP
        assert item["model"] == names[side]["model"] and item["prompt"] == battle["prompt"]
        assert item["image_url"] == battle[side]["url"]
        assert user.get(item["image_url"]).status_code == 200
    blind_urls = (blind["a"]["url"], blind["b"]["url"])
    assert not any(blind["id"] in i for i in items) and not any(u in str(body) for u in blind_urls)

    same = user.get("/v1/gallery", params={"competition": COMP}).json()["data"]
    assert {i["id"] for i in same} == {f"{battle['id']}-a", f"{battle['id']}-b"}
    other = user.get("/v1/gallery", params={"competition": "vintage-cafe-logo"}).json()
    assert other["data"] == [] and other["total"] == 0
    bad = user.get("/v1/gallery", params={"competition": "no-such-competition"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "competition"

    with httpx.Client(base_url=server.url, timeout=60) as c:  # pages are public by default
        for path in ("/gallery", "/gallery.md"):
            page = c.get(path, params={"competition": COMP})
            assert page.status_code == 200, path
            marker = '<ul class="gl-grid">' if path == "/gallery" else "\n## "
            assert marker in page.text, path
            text = html.unescape(page.text.split(marker, 1)[1])  # the items, not the filter form's lists
            assert TITLE in text and battle["prompt"] in text, path
            # the page shows each model's name; markdown escapes names such as "FLUX.1 [dev]", so it is checked by id
            shown = [names[s]["name"] if path == "/gallery" else f"`{names[s]['model']}`" for s in "ab"]
            assert all(n in text for n in shown), path
            assert battle["a"]["url"].rsplit("/", 1)[1] in text and battle["b"]["url"].rsplit("/", 1)[1] in text
            assert not any(u.rsplit("/", 1)[1] in text for u in blind_urls), path
        form = c.get("/gallery").text
        assert 'name="competition"' in form and f'value="{COMP}"' in form
        assert TITLE in c.get("/gallery.md", params={"source": "competition"}).text

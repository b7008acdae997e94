"""The arena through a real gateway process (placeholder provider: every catalog model is served offline)."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator

import httpx
import pytest
from PIL import Image

from tests.helpers_server import ServerProcess

MASTER = "sk-master-arena-test"
USER_KEY = "sk-user-arena-test"
SEED_COMPETITIONS = {
    "Man and Car in California", "Victorian Greenhouse Oasis", "Isometric Miniature Diorama Scenes",
    "Golden Hour Stroll", "Modern Clean Menu", "Bald man challenge", "Fantasy Warrior", "Candid Street Photography",
    "Neutral Expression to Genuine Smile", "Night Sky Transformation", "Over-the-top cartoon caricature",
    "Apollo 11: Journey to Tranquility", "Studio Ghibli Anime Style", "Heroic Super Hero Portrait",
    "Vintage Cafe Logo", "Selective Object Swap", "Geometric Composition", "Adorable Baby Animals in Sunny Meadow",
}  # fmt: skip
SEED_CATEGORIES = {
    "Photorealism (Image Editing)", "Portrait (Text-to-Image)", "Photorealism (Text-to-Image)",
    "Text Rendering (Text-to-Image)", "Portrait (Image Editing)", "Anime (Image Editing)",
    "Product, Branding & Commercial (Text-to-Image)",
}  # fmt: skip
ROW_FIELDS = {"model", "rating", "lower", "upper", "rank", "wins", "losses", "ties", "battles", "win_rate"}


@pytest.fixture(scope="module")
def arena_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(
        tmp_path_factory.mktemp("arena") / "data",
        env={"IMAGEGATE_MASTER_KEY": MASTER, "IMAGEGATE_API_KEYS": USER_KEY, "IMAGEGATE_ARENA_SIZE": "256x256"},
    )
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


def _client(server: ServerProcess, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60)


@pytest.fixture(scope="module")
def user(arena_server: ServerProcess) -> Iterator[httpx.Client]:
    with _client(arena_server, USER_KEY) as c:
        yield c


@pytest.fixture(scope="module")
def admin(arena_server: ServerProcess) -> Iterator[httpx.Client]:
    with _client(arena_server, MASTER) as c:
        yield c


def _error(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) >= {"message", "type", "param", "code"}
    return err


def test_fresh_install_has_the_seed_competitions_and_categories(user: httpx.Client) -> None:
    comps = user.get("/v1/arena/competitions").json()["data"]
    cats = user.get("/v1/arena/categories").json()["data"]
    assert {c["title"] for c in comps} == SEED_COMPETITIONS
    assert {c["title"] for c in cats} == SEED_CATEGORIES
    editing = [c for c in comps if c["task"] == "image-editing"]
    assert editing and all(c["input_images"] for c in editing)
    image = user.get(editing[0]["input_images"][0])
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert len(image.content) < 50_000
    photo_edit = next(c for c in cats if c["title"] == "Photorealism (Image Editing)")
    assert photo_edit["task"] == "image-editing"


def test_battle_hides_the_names_and_a_vote_reveals_them(user: httpx.Client) -> None:
    r = user.post("/v1/arena/battles", json={"task": "text-to-image", "competition": "candid-street-photography"})
    assert r.status_code == 200, r.text
    battle = r.json()
    assert battle["id"].startswith("battle_") and battle["prompt"] and battle["competition"]
    models = [m["id"] for m in user.get("/v1/models").json()["data"]]
    assert not any(m in json.dumps(battle) for m in models)  # no model name anywhere before the vote
    for side in ("a", "b"):
        img = user.get(battle[side]["url"])
        assert img.status_code == 200
        assert Image.open(io.BytesIO(img.content)).format == "PNG"
    voted = user.post(f"/v1/arena/battles/{battle['id']}/vote", json={"winner": "a"})
    assert voted.status_code == 200, voted.text
    body = voted.json()
    assert body["a"]["model"] in models and body["b"]["model"] in models and body["a"]["model"] != body["b"]["model"]
    assert body["winner"] == "a" and body["counted"] is True
    again = user.post(f"/v1/arena/battles/{battle['id']}/vote", json={"winner": "b"})
    assert _error(again, 409)["code"] == "CONFLICT"
    board = user.get("/v1/arena/leaderboard", params={"competition": battle["competition"]}).json()
    assert board["battles"] >= 1
    winner = next(r for r in board["rows"] if r["model"] == body["a"]["model"])
    assert set(winner) >= ROW_FIELDS and winner["wins"] >= 1
    assert board["left_win_share"] is not None


def test_editing_battle_uses_the_input_images(user: httpx.Client) -> None:
    r = user.post("/v1/arena/battles", json={"task": "image-editing", "competition": "night-sky-transformation"})
    assert r.status_code == 200, r.text
    battle = r.json()
    assert battle["competition"] == "night-sky-transformation" and len(battle["input_images"]) == 1
    assert user.get(battle["a"]["url"]).status_code == 200


def test_bad_battle_and_vote_requests_are_clear_4xx(user: httpx.Client) -> None:
    assert _error(user.post("/v1/arena/battles", json={"task": "video"}), 400)["param"] == "task"
    assert _error(user.post("/v1/arena/battles", json={"task": "text-to-image", "competition": "nope"}), 404)
    wrong_task = user.post("/v1/arena/battles", json={"task": "text-to-image", "competition": "bald-man-challenge"})
    assert _error(wrong_task, 400)["param"] == "competition"
    battle = user.post("/v1/arena/battles", json={"task": "text-to-image"}).json()  # the gateway picks the competition
    assert battle["competition"] in {c["slug"] for c in user.get("/v1/arena/competitions").json()["data"]}
    assert (
        _error(user.post(f"/v1/arena/battles/{battle['id']}/vote", json={"winner": "left"}), 400)["param"] == "winner"
    )
    assert _error(user.post("/v1/arena/battles/battle_nope/vote", json={"winner": "a"}), 404)
    assert _error(user.post("/v1/arena/battles", content=b"{", headers={"content-type": "application/json"}), 400)


def test_names_revealed_before_the_vote_do_not_count(user: httpx.Client) -> None:
    battle = user.post("/v1/arena/battles", json={"task": "text-to-image", "competition": "fantasy-warrior"}).json()
    before = user.get("/v1/arena/leaderboard", params={"competition": "fantasy-warrior"}).json()["battles"]
    shown = user.post(f"/v1/arena/battles/{battle['id']}/reveal").json()
    assert shown["a"]["model"] and shown["b"]["model"]
    voted = user.post(f"/v1/arena/battles/{battle['id']}/vote", json={"winner": "b"}).json()
    assert voted["counted"] is False
    after = user.get("/v1/arena/leaderboard", params={"competition": "fantasy-warrior"}).json()["battles"]
    assert after == before


def _fastchat(rows: list[tuple[str, str, str, bool]]) -> list[dict]:
    return [
        {"question_id": f"q{i}", "model_a": a, "model_b": b, "winner": w, "anony": anony, "tstamp": 1.7e9 + i,
         "judge": f"judge{i % 3}"}
        for i, (a, b, w, anony) in enumerate(rows)
    ]  # fmt: skip


def test_import_rates_anonymous_battles_and_outside_models_by_name(admin: httpx.Client) -> None:
    rows = (
        [("gpt-image-1", "flux-outsider", "model_a", True)] * 6
        + [("flux-outsider", "gpt-image-1", "tie (bothbad)", True)] * 2
        + [("flux-outsider", "gpt-image-1", "model_a", False)] * 5  # not anonymous: ignored
    )

    def record(board: dict, model: str) -> tuple[int, int, int]:
        row = next((x for x in board["rows"] if x["model"] == model), None)
        return (row["wins"], row["losses"], row["ties"]) if row else (0, 0, 0)

    # (other tests' random battles may land in this competition too: compare before and after)
    before = admin.get("/v1/arena/leaderboard", params={"competition": "vintage-cafe-logo"}).json()
    r = admin.post(
        "/v1/arena/battles:import",
        params={"task": "text-to-image", "competition": "vintage-cafe-logo"},
        content=json.dumps(_fastchat(rows)).encode(),
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"object": "arena.import", "imported": 13, "counted": 8, "skipped": 5}
    board = admin.get("/v1/arena/leaderboard", params={"competition": "vintage-cafe-logo"}).json()
    assert board["battles"] == before["battles"] + 8
    rows_by = {row["model"]: row for row in board["rows"]}
    w, lost, t = record(before, "gpt-image-1")
    assert record(board, "gpt-image-1") == (w + 6, lost, t + 2)
    assert rows_by["flux-outsider"]["losses"] == 6 and rows_by["flux-outsider"]["name"] == "flux-outsider"
    # the competition's categories see it too: Text Rendering and Product, Branding & Commercial (text-to-image)
    for cat in ("text-rendering-text-to-image", "product-branding-commercial-text-to-image"):
        cat_board = admin.get("/v1/arena/leaderboard", params={"category": cat}).json()
        assert {"gpt-image-1", "flux-outsider"} <= {row["model"] for row in cat_board["rows"]}
    assert rows_by["gpt-image-1"]["rank"] == 1


def test_malformed_import_names_the_line_and_imports_nothing(admin: httpx.Client) -> None:
    before = len(admin.get("/v1/arena/battles:export").json())
    good = json.dumps(_fastchat([("a-model", "b-model", "model_a", True)])[0])
    lines = [good, good, json.dumps({"model_a": "a-model", "model_b": "b-model", "winner": "model_c", "anony": True})]
    err = _error(admin.post("/v1/arena/battles:import", content="\n".join(lines).encode()), 400)
    assert "line 3" in err["message"] and "winner" in err["message"]
    broken = "[\n" + good + ',\n{"model_a": \n]'
    assert "line 3" in _error(admin.post("/v1/arena/battles:import", content=broken.encode()), 400)["message"]
    nan = good[:-1] + ', "tstamp": NaN}'
    assert (
        "line 2" in _error(admin.post("/v1/arena/battles:import", content=(good + "\n" + nan).encode()), 400)["message"]
    )
    assert len(admin.get("/v1/arena/battles:export").json()) == before
    ok = admin.post("/v1/arena/battles:import", content=(good + "\n" + good + "\n").encode())  # JSON lines
    assert ok.status_code == 200 and ok.json()["imported"] == 2


def test_export_is_fastchat_format_and_round_trips(admin: httpx.Client) -> None:
    exported = admin.get("/v1/arena/battles:export").json()
    assert exported
    for rec in exported:
        assert {"question_id", "model_a", "model_b", "winner", "anony", "tstamp", "judge"} <= set(rec)
        assert rec["winner"] in ("model_a", "model_b", "tie", "tie (bothbad)")
    mine = [r for r in exported if r["competition"] == "vintage-cafe-logo"]
    r = admin.post(
        "/v1/arena/battles:import",
        params={"task": "text-to-image", "competition": "geometric-composition"},
        content=json.dumps(mine).encode(),
    )
    assert r.status_code == 200, r.text
    a = admin.get("/v1/arena/leaderboard", params={"competition": "vintage-cafe-logo"}).json()
    b = admin.get("/v1/arena/leaderboard", params={"competition": "geometric-composition"}).json()
    assert a["rows"] == b["rows"] and a["battles"] == b["battles"]  # same battles, same board (intervals too)
    jsonl = admin.get("/v1/arena/battles:export", params={"format": "jsonl"})
    assert [json.loads(line) for line in jsonl.text.splitlines()] == admin.get("/v1/arena/battles:export").json()


def test_admin_adds_competitions_and_categories_with_the_master_key(admin: httpx.Client, user: httpx.Client) -> None:
    cat = {"slug": "cyberpunk-text-to-image", "title": "Cyberpunk (Text-to-Image)", "task": "text-to-image",
           "use_case": "cyberpunk"}  # fmt: skip
    assert _error(user.post("/v1/arena/categories", json=cat), 403)["code"] == "PERMISSION_DENIED"
    assert admin.post("/v1/arena/categories", json=cat).status_code == 201
    assert _error(admin.post("/v1/arena/categories", json=cat), 409)
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(buf, "PNG")
    comp = {
        "slug": "neon-alley",
        "title": "Neon Alley",
        "task": "image-editing",
        "use_cases": ["cyberpunk"],
        "prompt": "Make this red square a neon sign in a rainy alley.",
        "input_images": ["data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()],
    }
    r = admin.post("/v1/arena/competitions", json=comp)
    assert r.status_code == 201, r.text
    assert _error(admin.post("/v1/arena/competitions", json={**comp, "slug": "Bad Slug"}), 400)["param"] == "slug"
    no_inputs = {**comp, "slug": "neon-alley-2", "input_images": []}
    assert _error(admin.post("/v1/arena/competitions", json=no_inputs), 400)
    assert "neon-alley" in {c["slug"] for c in user.get("/v1/arena/competitions").json()["data"]}
    battle = user.post("/v1/arena/battles", json={"task": "image-editing", "competition": "neon-alley"})
    assert battle.status_code == 200, battle.text
    assert user.get(battle.json()["input_images"][0]).status_code == 200
    assert _error(user.post("/v1/arena/battles:import", content=b"[]"), 403)


def test_pages_render_with_their_markdown_twins(arena_server: ServerProcess) -> None:
    with httpx.Client(base_url=arena_server.url, timeout=60) as c:  # pages are public by default
        for path in ("/arena", "/arena/vote", "/arena/vintage-cafe-logo", "/arena?task=image-editing"):
            html = c.get(path)
            assert html.status_code == 200 and "text/html" in html.headers["content-type"], path
            md = c.get(path.replace("?", ".md?") if "?" in path else path + ".md")
            assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown"), path
        board = c.get("/arena/vintage-cafe-logo").text
        assert '<svg class="ci"' in board and "flux-outsider" in board
        assert "Vintage Cafe Logo" in c.get("/arena/vintage-cafe-logo.md").text


def test_browser_voter_id_is_a_cookie_and_never_exported(arena_server: ServerProcess, admin: httpx.Client) -> None:
    import re

    with httpx.Client(base_url=arena_server.url, timeout=60) as browser:  # no key: the public pages
        page = browser.get("/arena/vote?task=text-to-image")
        cookie = browser.cookies.get("imagegate_arena_voter")
        assert cookie and "httponly" in page.headers["set-cookie"].lower()
        battle_id = re.search(r'data-battle-id="([^"]+)"', page.text).group(1)
        voted = browser.post("/arena/vote", data={"battle_id": battle_id, "winner": "tie"})
        assert voted.status_code == 303 and "voted=" + battle_id in voted.headers["location"]
        again = browser.post("/arena/vote", data={"battle_id": battle_id, "winner": "a"},
                             headers={"Accept": "application/json"})  # fmt: skip
        assert again.status_code == 409 and again.json()["error"]["code"] == "CONFLICT"
        assert browser.head("/arena/vote").status_code == 200
    exported = {r["battle_id"]: r for r in admin.get("/v1/arena/battles:export").json()}
    assert exported[battle_id]["winner"] == "tie" and exported[battle_id]["anony"] is True
    assert exported[battle_id]["judge"].startswith("browser:") and cookie not in json.dumps(exported)

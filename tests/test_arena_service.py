"""ArenaService in-process on a real SQLite database and the real gateway (placeholder provider): caps, the pool,
pair choice, boards, the model summary the model pages read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from imagegate.arena.schema import ArenaDataError, load_packaged
from imagegate.core.errors import GatewayError
from imagegate.services import Services, build_services
from imagegate.settings import Settings


@pytest.fixture
async def services(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Services]:
    overrides = getattr(request, "param", {})
    settings = Settings(data_dir=tmp_path / "data", arena_size="256x256", arena_bootstrap_rounds=20, **overrides)
    svc = await build_services(settings)
    await svc.start()
    try:
        yield svc
    finally:
        await svc.aclose()


def _import(rows: list[tuple[str, str, str]]) -> bytes:
    import json

    return "\n".join(json.dumps({"model_a": a, "model_b": b, "winner": w, "anony": True}) for a, b, w in rows).encode()


@pytest.mark.parametrize("services", [{"arena_daily_spend_usd": 0.0}], indirect=True)
async def test_daily_spend_cap_stops_generation(services: Services) -> None:
    with pytest.raises(GatewayError) as err:
        await services.arena.battle("text-to-image")
    assert err.value.status == 429 and err.value.code == "ARENA_SPEND_CAP"


@pytest.mark.parametrize("services", [{"arena_votes_per_day": 2}], indirect=True)
async def test_per_voter_daily_cap(services: Services) -> None:
    arena = services.arena
    battles = [await arena.battle("text-to-image") for _ in range(3)]
    for b in battles[:2]:
        await arena.vote(b["id"], "tie", "browser:abc")
    with pytest.raises(GatewayError) as err:
        await arena.vote(battles[2]["id"], "a", "browser:abc")
    assert err.value.status == 429
    assert (await arena.vote(battles[2]["id"], "a", "browser:other"))["counted"] is True


async def test_prefill_fills_the_pool_and_battles_come_from_it(services: Services) -> None:
    arena = services.arena
    assert await arena.prefill(2, task="image-editing") == 2
    assert arena.store.pool_size("image-editing") == 2
    served = await arena.battle("image-editing")
    assert arena.store.pool_size("image-editing") == 1
    assert served["input_images"] and served["a"]["url"] != served["b"]["url"]
    # a pooled battle cannot be voted on until it is served
    pooled = arena.store.take_pooled("image-editing", None)
    assert pooled is not None and arena.store.pool_size("image-editing") == 0


async def test_uncertain_sampling_picks_the_least_measured_pair(services: Services) -> None:
    arena = services.arena
    measured = {"gemini-2.5-flash-image", "gemini-3-pro-image-preview"}
    servable = arena.maker.servable(arena.competition("fantasy-warrior"))
    assert measured <= set(servable) and len(servable) >= 4
    # 30 battles between the two Gemini models, none for any other pair
    rows = [("gemini-2.5-flash-image", "gemini-3-pro-image-preview", "model_b")] * 15
    rows += [("gemini-3-pro-image-preview", "gemini-2.5-flash-image", "tie")] * 15
    await arena.import_battles(_import(rows), "text-to-image", "fantasy-warrior")
    seen: list[frozenset[str]] = []
    for _ in range(4):
        battle = await arena.battle("text-to-image", "fantasy-warrior")
        shown = await arena.reveal(battle["id"])
        pair = frozenset((shown["a"]["model"], shown["b"]["model"]))
        assert pair != measured and pair <= set(servable)
        seen.append(pair)
    assert len(set(seen)) == 4  # a pair waiting for its vote counts as measured: the next battle is another pair


async def test_boards_and_model_summary_shape(services: Services) -> None:
    arena = services.arena
    rows = (
        [("gemini-3-pro-image-preview", "gpt-image-1", "model_a")] * 5
        + [("gpt-image-1", "gemini-3-pro-image-preview", "model_a")] * 2
        + [("gpt-image-1", "gemini-2.5-flash-image", "tie (bothbad)")] * 4
    )
    await arena.import_battles(_import(rows), "image-editing", "bald-man-challenge")
    summary = arena.model_summary("gemini-3-pro-image-preview")
    assert set(summary) == {"competitions", "categories"}
    (comp,) = summary["competitions"]
    assert set(comp) == {"slug", "title", "rating", "wins", "losses", "ties", "battles", "rank", "of"}
    assert (comp["slug"], comp["title"], comp["wins"], comp["losses"], comp["battles"]) == (
        "bald-man-challenge", "Bald man challenge", 5, 2, 7
    )  # fmt: skip
    assert comp["rank"] == 1 and comp["of"] == 3
    cats = {c["slug"]: c for c in summary["categories"]}
    assert set(cats) == {"photorealism-image-editing", "portrait-image-editing"}  # the competition's use cases
    for c in cats.values():
        assert set(c) == {"slug", "title", "task", "rank", "of", "rating", "wins", "losses", "ties", "battles",
                          "win_rate"}  # fmt: skip
        assert c["task"] == "image-editing" and c["win_rate"] == pytest.approx(5 / 7, abs=1e-4)
    assert cats["portrait-image-editing"]["title"] == "Portrait (Image Editing)"
    overall = arena.leaderboard("image-editing")
    assert overall["battles"] == 11 and overall["left_win_share"] == pytest.approx(7 / 7)
    assert arena.model_summary("gpt-image")["competitions"][0]["losses"] == 5  # an alias finds the model
    assert arena.model_summary("unknown-model") == {"competitions": [], "categories": []}


@pytest.mark.parametrize("services", [{"arena_anchor": "gpt-image-1=1200", "arena_min_battles": 10}], indirect=True)
async def test_anchor_and_minimum_battles_settings(services: Services) -> None:
    arena = services.arena
    rows = [("gemini-3-pro-image-preview", "gpt-image-1", "model_a")] * 6 + [
        ("gpt-image-1", "gemini-2.5-flash-image", "model_a")
    ] * 6
    await arena.import_battles(_import(rows), "text-to-image", None)
    board = {r["model"]: r for r in arena.leaderboard("text-to-image")["rows"]}
    assert board["gpt-image-1"]["rating"] == pytest.approx(1200, abs=0.01)
    assert board["gpt-image-1"]["rank"] == 1  # 12 battles: ranked
    assert board["gemini-3-pro-image-preview"]["rank"] is None  # 6 battles: below the minimum of 10


def test_packaged_data_and_a_bad_extra_file(tmp_path: Path) -> None:
    comps, cats = load_packaged()
    assert len(comps) == 18 and len(cats) == 7
    bad = tmp_path / "bad.yaml"
    bad.write_text("competitions:\n  - {slug: x-y, title: X, task: text-to-image, prompt: p, input_images: [a.png]}\n")
    with pytest.raises(ArenaDataError, match=r"bad.yaml: competitions\[0\].input_images"):
        load_packaged([bad])
    dup = tmp_path / "dup.yaml"
    dup.write_text("categories:\n  - {slug: anime-image-editing, title: A, task: image-editing, use_case: anime}\n")
    with pytest.raises(ArenaDataError, match="defined twice"):
        load_packaged([dup])


async def test_votes_and_the_pool_on_postgresql(tmp_path: Path, pg_url: str) -> None:  # noqa: F811
    """The conditional updates (claim a pooled battle, one vote, counted unless revealed) on PostgreSQL."""
    settings = Settings(
        data_dir=tmp_path / "data", database_url=pg_url, arena_size="256x256", arena_bootstrap_rounds=10
    )
    svc = await build_services(settings)
    await svc.start()
    try:
        arena = svc.arena
        await arena.prefill(2, task="text-to-image")
        first = await arena.battle("text-to-image")
        second = await arena.battle("text-to-image")
        assert arena.store.pool_size("text-to-image") == 0 and first["id"] != second["id"]
        assert (await arena.vote(first["id"], "b", "key:one"))["counted"] is True
        with pytest.raises(GatewayError) as err:
            await arena.vote(first["id"], "a", "key:one")
        assert err.value.status == 409
        await arena.reveal(second["id"])
        assert (await arena.vote(second["id"], "a", "key:one"))["counted"] is False
        assert arena.leaderboard("text-to-image")["battles"] == 1
        assert arena.store.votes_since("key:one", datetime(2000, 1, 1, tzinfo=UTC)) == 2
    finally:
        await svc.aclose()


@pytest.mark.parametrize("services", [{"arena_pool_size": 2}], indirect=True)
async def test_background_top_up_keeps_each_task_pool_full(services: Services) -> None:
    arena = services.arena
    await arena.top_up()  # the background task runs the same pass (one at a time): the pools are full after it
    assert arena.store.pool_size("text-to-image") == 2 and arena.store.pool_size("image-editing") == 2
    await arena.battle("image-editing")
    assert await arena.top_up() == 1
    assert arena.store.pool_size("image-editing") == 2


@pytest.mark.parametrize("services", [{"arena_sampling": "uniform"}], indirect=True)
async def test_uniform_sampling_still_makes_valid_battles(services: Services) -> None:
    arena = services.arena
    servable = set(arena.maker.servable(arena.competition("modern-clean-menu")))
    for _ in range(3):
        shown = await arena.reveal((await arena.battle("text-to-image", "modern-clean-menu"))["id"])
        assert shown["a"]["model"] != shown["b"]["model"] and {shown["a"]["model"], shown["b"]["model"]} <= servable


async def test_an_unknown_sampling_setting_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="arena_sampling"):
        await build_services(Settings(data_dir=tmp_path / "data", arena_sampling="best"))


async def test_votes_in_any_order_and_from_another_worker_reach_the_boards(services: Services) -> None:
    arena = services.arena
    assert await arena.prefill(2, task="text-to-image") == 2
    older = await arena.battle("text-to-image")
    newer = await arena.battle("text-to-image")
    await arena.vote(newer["id"], "a", "key:x")  # the later battle is voted first
    await arena.vote(older["id"], "b", "key:x")
    assert arena.leaderboard("text-to-image")["battles"] == 2
    # a second worker on the same database: its vote reaches this worker's boards at the next refresh
    other = await build_services(services.settings)
    await other.start()
    try:
        third = await other.arena.battle("text-to-image")
        await other.arena.vote(third["id"], "tie", "key:y")
        assert other.arena.leaderboard("text-to-image")["battles"] == 3
        assert arena.leaderboard("text-to-image")["battles"] == 2  # boards are not recomputed on read
        await arena.refresh()
        assert arena.leaderboard("text-to-image")["battles"] == 3
        await arena.refresh()  # the re-read window brings nothing twice
        assert arena.leaderboard("text-to-image")["battles"] == 3
    finally:
        await other.aclose()

"""Arena generations go through the real pipeline to (fake) paid providers: their cost is the arena's spend, and the
daily cap stops generation once reached."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import httpx
import pytest

from imagegate.testing.fleet import Fleet, ThreadedFleet
from tests.helpers_server import ServerProcess


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    fleet = ThreadedFleet(Fleet(workdir=tmp_path_factory.mktemp("fleet"), providers=("gemini", "openai")))
    fleet.start()
    env = {**fleet.fleet.env(), "IMAGEGATE_PLACEHOLDER": "off", "IMAGEGATE_ARENA_DAILY_SPEND_USD": "0.001",
           "IMAGEGATE_ARENA_SIZE": "1024x1024"}  # fmt: skip
    proc = ServerProcess(tmp_path_factory.mktemp("arena-spend") / "data", env=env)
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()
        fleet.stop()


def test_battle_costs_are_arena_spend_and_the_cap_stops_generation(gateway: ServerProcess) -> None:
    with httpx.Client(base_url=gateway.url, timeout=60) as c:
        first = c.post("/v1/arena/battles", json={"task": "text-to-image"})
        assert first.status_code == 200, first.text
        for side in ("a", "b"):
            assert c.get(first.json()[side]["url"]).status_code == 200
        db = sqlite3.connect(gateway.data_dir / "imagegate.db")
        try:
            ((cost, source),) = db.execute("SELECT cost_micros, source FROM arena_battles").fetchall()
        finally:
            db.close()
        assert source == "arena" and cost > 1_000  # paid images (the cheapest is $0.003): more than the $0.001 cap
        second = c.post("/v1/arena/battles", json={"task": "text-to-image"})
        assert second.status_code == 429, second.text
        assert second.json()["error"]["code"] == "ARENA_SPEND_CAP"
        voted = c.post(f"/v1/arena/battles/{first.json()['id']}/vote", json={"winner": "tie"})
        assert voted.status_code == 200  # voting needs no generation

"""Keys with policies in the database, and the per-process cache that the key version stamp keeps fresh."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from imagegate.catalog.loader import load_catalog
from imagegate.core.errors import InvalidRequest
from imagegate.store.db import Database, run_migrations
from imagegate.tenancy.directory import KeyDirectory
from imagegate.tenancy.keystore import KeyStore
from imagegate.tenancy.policy import parse_key_body

CATALOG = load_catalog([])


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class CountingStore(KeyStore):
    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.verifies = 0
        self.versions = 0

    def verify(self, plaintext: str):  # type: ignore[no-untyped-def]
        self.verifies += 1
        return super().verify(plaintext)

    def version(self) -> tuple[int, int]:
        self.versions += 1
        return super().version()


@pytest.fixture
def store(tmp_path) -> Iterator[CountingStore]:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path}/keys.db"
    run_migrations(url)
    s = CountingStore(Database(url))
    yield s
    s.db.dispose()


async def test_known_keys_cost_no_query_until_a_key_changes(store: CountingStore) -> None:
    clock = Clock()
    directory = KeyDirectory(store, clock=clock)
    view, secret = store.create(parse_key_body({"name": "a", "models": ["nano-banana-pro"]}, CATALOG))
    policy = await directory.lookup(secret)
    assert policy is not None and policy.key_id == view["id"] and policy.models == ("gemini-3-pro-image-preview",)
    for _ in range(5):
        clock.t += 1
        assert await directory.lookup(secret) == policy
    assert store.verifies == 1  # the version did not move: the cache answered
    store.revoke(view["id"])  # e.g. on another replica
    assert await directory.lookup(secret) is not None  # within the freshness window, still cached...
    clock.t += directory.freshness_s
    assert await directory.lookup(secret) is None  # ...and refused once it has passed


async def test_a_new_key_is_known_at_once_even_after_being_refused(store: CountingStore) -> None:
    clock = Clock()
    directory = KeyDirectory(store, clock=clock)
    assert await directory.lookup("ig-nope") is None
    assert await directory.lookup("ig-nope") is None
    assert store.verifies == 1  # refused secrets are remembered for the freshness window
    _, secret = store.create(parse_key_body({"name": "b"}, CATALOG))
    assert await directory.lookup(secret) is not None  # never seen before: looked up, found
    clock.t += directory.freshness_s
    assert await directory.has_live_keys()  # auth turns on for a gateway that had no key (within 0.5 s)


def test_update_keeps_what_is_not_given_and_legacy_keys_get_the_default_policy(store: CountingStore) -> None:
    view, _ = store.create(parse_key_body({"name": "c", "budget": {"usd": 5, "period": "day"}}, CATALOG))
    after = store.update(view["id"], parse_key_body({"metadata": {"team": "x"}}, CATALOG, partial=True))
    assert after is not None and after["budget"] == {"usd": 5.0, "period": "day"} and after["metadata"] == {"team": "x"}
    assert store.update("key_missing", {}) is None
    legacy_id, legacy = store.db.create_api_key("old")  # a key made before policies existed
    policy = store.verify(legacy)
    assert (
        policy is not None and policy.key_id == legacy_id and policy.models == ("*",) and policy.budget_micros is None
    )
    assert store.get(legacy_id)["budget"] is None  # type: ignore[index]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"name": ""}, "name"),
        ({"budget": {"usd": float("nan")}}, "budget.usd"),
        ({"budget": {"period": "month"}}, "budget.usd"),
        ({"rate_limits": {"requests_per_minute": -5}}, "rate_limits.requests_per_minute"),
        ({"metadata": []}, "metadata"),
        ({"models": ["vertex/nano-banana-pro"]}, "models"),
    ],
)
def test_bad_bodies_name_the_field(body: dict, param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_key_body(body, CATALOG)
    assert info.value.param == param

"""``ArenaService.gallery_items``: voted battles' images for the gallery, kept in memory and rebuilt on votes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from imagegate.services import Services
from imagegate.store.db import utcnow
from imagegate.store.models import BlobRow
from tests.test_arena_service import services  # noqa: F401  (fixture: in-process services on SQLite)


async def test_counted_votes_fill_the_gallery_newest_first(services: Services) -> None:  # noqa: F811
    arena = services.arena
    first = await arena.battle("text-to-image", "candid-street-photography")
    second = await arena.battle("text-to-image", "vintage-cafe-logo")
    blind = await arena.battle("text-to-image", "vintage-cafe-logo")
    revealed = await arena.battle("text-to-image", "vintage-cafe-logo")
    assert arena.gallery_items() == []
    v1 = await arena.vote(first["id"], "a", "browser:one")
    v2 = await arena.vote(second["id"], "tie", "browser:one")
    await arena.reveal(revealed["id"])
    await arena.vote(revealed["id"], "b", "browser:one")  # names shown before the vote: not counted, not shown
    items = arena.gallery_items()
    expected = [f"{b['id']}-{side}" for b in (second, first) for side in "ab"]
    assert [i["id"] for i in items] == expected
    a = items[2]
    assert a["source"] == "competition" and a["competition"] == "candid-street-photography"
    assert a["title"] == "Candid Street Photography" and a["prompt"] == first["prompt"]
    assert a["model"] == v1["a"]["model"] and items[3]["model"] == v1["b"]["model"]
    assert items[0]["model"] == v2["a"]["model"] and a["image_url"] == first["a"]["url"]
    assert a["task"] == "text-to-image" and isinstance(a["created"], int)
    assert not any(blind["id"] in i["id"] or revealed["id"] in i["id"] for i in items)


async def test_expired_images_are_left_out(services: Services) -> None:  # noqa: F811
    arena = services.arena
    first = await arena.battle("text-to-image")
    await arena.vote(first["id"], "a", "browser:one")
    token = first["a"]["url"].rsplit("/", 1)[1].split(".", 1)[0]
    with services.db.session.begin() as s:
        s.execute(update(BlobRow).where(BlobRow.token == token).values(expires_at=utcnow() - timedelta(seconds=1)))
    second = await arena.battle("text-to-image")
    await arena.vote(second["id"], "b", "browser:one")  # the vote rebuilds the list with the blobs' expiry
    ids = [i["id"] for i in arena.gallery_items()]
    assert ids == [f"{second['id']}-a", f"{second['id']}-b", f"{first['id']}-b"]

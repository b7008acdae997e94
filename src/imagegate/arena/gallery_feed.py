"""Voted arena battles as gallery items ("competition results"): both images of each of the latest counted battles.

The service rebuilds the list when counted votes arrive (in ``refresh``), so a gallery page view reads memory only;
an image whose blob has expired is dropped at read time by the expiry read with the list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from imagegate.arena.schema import Competition
from imagegate.store.arena_tables import ArenaBattleRow

GALLERY_BATTLES = 200  # the latest counted battles shown in the gallery (two images each)


def battle_items(
    rows: Sequence[ArenaBattleRow],
    expires: Mapping[str, datetime],
    competitions: Mapping[str, Competition],
    base_url: str,
) -> list[tuple[datetime, dict[str, Any]]]:
    """``(blob expiry, item)`` for each image of ``rows`` (newest first), in ``gallery.sources``' item shape.

    Images whose blob is already gone (not in ``expires``) are left out."""
    out: list[tuple[datetime, dict[str, Any]]] = []
    for row in rows:
        comp = competitions.get(row.competition or "")
        for side, model, image in (("a", row.model_a, row.image_a), ("b", row.model_b, row.image_b)):
            expiry = expires.get(str(image).split(".", 1)[0])
            if not image or expiry is None:
                continue
            url = f"{base_url}/files/{image}"
            item = {
                "id": f"{row.public_id}-{side}",
                "source": "competition",
                "model": model,
                "task": row.task,
                "prompt": row.prompt,
                "title": comp.title if comp else row.competition,
                "provider": None,  # not recorded on the battle
                "executed_model": None,
                "size": None,
                "cost": None,  # the battle's cost covers both images together
                "latency_ms": None,
                "image_url": url,
                "thumb_url": url,
                "width": None,
                "height": None,
                "created": int(row.created_at.timestamp()),
                "competition": row.competition,
                "battle": row.public_id,
            }
            out.append((expiry, item))
    return out

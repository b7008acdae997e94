"""Every gallery source merged into one filtered, paged list of items (plain dicts, the API's and the pages' shape).

Sources, in page order: curated examples from the catalog (``ModelRecord.gallery``, when the catalog has it), arena
battle images (``arena_items``: the hook the arena fills), then published entries from the database, newest first.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

from imagegate.api.files import extension
from imagegate.gallery import store
from imagegate.store.gallery_models import GalleryEntryRow

PAGE_SIZE = 48
SOURCES = ("curated", "published", "competition")
TASKS = ("text-to-image", "image-editing")


def creator_slug(model: Any) -> str:
    """The creator's URL segment: the catalog's ``creator_slug`` when it has one, else the creator lower-cased with
    runs of other characters as ``-`` ("Black Forest Labs" -> "black-forest-labs")."""
    key = getattr(model, "creator_key", None)  # the catalog's own rule, where it has one
    if isinstance(key, str) and key:
        return key
    slug = getattr(model, "creator_slug", None)
    return slug or re.sub(r"[^a-z0-9.]+", "-", model.creator.lower()).strip("-")


def model_path(model: Any) -> str:
    return f"/models/{creator_slug(model)}/{model.id}"


def curated_items(catalog: Any) -> list[dict[str, Any]]:
    items = []
    for model in catalog.models():
        for i, entry in enumerate(getattr(model, "gallery", ()) or ()):
            image = getattr(entry, "image", None)
            prompt = getattr(entry, "prompt", None)
            if not image or not prompt:
                continue
            items.append(
                {
                    "id": f"curated-{model.id}-{i + 1}",
                    "source": "curated",
                    "model": model.id,
                    "task": getattr(entry, "task", "text-to-image"),
                    "prompt": prompt,
                    "title": getattr(entry, "title", None),
                    "provider": None,
                    "executed_model": None,
                    "size": None,
                    "cost": None,
                    "latency_ms": None,
                    "image_url": f"/static/{image}",
                    "thumb_url": f"/static/{image}",
                    "width": None,
                    "height": None,
                    "created": None,
                }
            )
    return items


def arena_items(services: Any) -> list[dict[str, Any]]:
    """Arena battle images ("competition results"). Hook for the arena: when ``services.arena`` exists and has
    ``gallery_items()`` returning items in this module's shape (``source`` = "competition"), they are shown."""
    arena = getattr(services, "arena", None)
    items = getattr(arena, "gallery_items", None)
    return list(items()) if callable(items) else []


def entry_item(row: GalleryEntryRow, base_url: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "source": "published",
        "model": row.model,
        "task": row.task,
        "prompt": row.prompt,
        "title": None,
        "provider": row.provider,
        "executed_model": row.executed_model,
        "size": row.size,
        "cost": None if row.cost_micros is None else row.cost_micros / 1_000_000,
        "latency_ms": row.latency_ms,
        "image_url": f"{base_url}/files/{row.image_token}.{extension(row.image_mime)}",
        "thumb_url": f"{base_url}/files/{row.thumb_token}.webp",
        "width": row.width,
        "height": row.height,
        "created": int(row.created_at.timestamp()),
        "owner": row.owner,
    }


@dataclass
class GalleryPage:
    items: list[dict[str, Any]]
    total: int
    offset: int
    next_offset: int | None


async def gallery_page(
    services: Any,
    *,
    model: str | None = None,
    task: str | None = None,
    source: str | None = None,
    competition: str | None = None,
    offset: int = 0,
    limit: int = PAGE_SIZE,
) -> GalleryPage:
    """One page of the merged list. ``model`` is a resolved catalog id; ``competition`` (an arena competition's
    slug) keeps only that competition's battle images."""
    if competition is not None:
        source = "competition"
    static: list[dict[str, Any]] = []
    if source in (None, "curated"):
        static += curated_items(services.catalog)
    if source in (None, "competition"):
        static += [i for i in arena_items(services) if competition is None or i.get("competition") == competition]
    static = [i for i in static if (model is None or i["model"] == model) and (task is None or i["task"] == task)]
    items = static[offset : offset + limit]
    total = len(static)
    if source in (None, "published"):
        db_offset = max(0, offset - len(static))
        rows, count = await asyncio.to_thread(
            store.entries,
            services.db,
            models=None if model is None else [model],
            task=task,
            offset=db_offset,
            limit=limit - len(items),
        )
        base = services.pages.base_url
        items += [entry_item(r, base) for r in rows]
        total += count
    next_offset = offset + len(items) if offset + len(items) < total else None
    return GalleryPage(items=items, total=total, offset=offset, next_offset=next_offset)

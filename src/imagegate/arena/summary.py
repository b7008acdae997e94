"""A model's arena figures across boards: what the model page's "Arena Benchmarks" and "Use Cases & Category
Performance" sections show (``ArenaService.model_summary``; the shape is the model pages' contract)."""

from __future__ import annotations

from typing import Any

from imagegate.arena.boards import BoardKey, Boards
from imagegate.arena.schema import Category, Competition


def _find(boards: Boards, key: BoardKey, model: str) -> tuple[dict[str, Any], int] | None:
    """The model's row on a board and how many models that board ranks ("#k of N")."""
    result = boards.get(key)
    if result is None:
        return None
    row = next((r for r in result.rows if r["model"] == model), None)
    return (row, sum(1 for r in result.rows if r["rank"] is not None)) if row else None


def model_summary(
    boards: Boards, competitions: dict[str, Competition], categories: dict[str, Category], model: str
) -> dict[str, list[dict[str, Any]]]:
    comps, cats = [], []
    for comp in competitions.values():
        found = _find(boards, ("competition", comp.slug), model)
        if found:
            row, of = found
            comps.append(
                {"slug": comp.slug, "title": comp.title, "rating": row["rating"], "wins": row["wins"],
                 "losses": row["losses"], "ties": row["ties"], "battles": row["battles"], "rank": row["rank"],
                 "of": of}
            )  # fmt: skip
    for cat in categories.values():
        found = _find(boards, ("category", cat.slug), model)
        if found:
            row, of = found
            cats.append(
                {"slug": cat.slug, "title": cat.title, "task": cat.task, "rank": row["rank"], "of": of,
                 "rating": row["rating"], "wins": row["wins"], "losses": row["losses"], "ties": row["ties"],
                 "battles": row["battles"], "win_rate": row["win_rate"]}
            )  # fmt: skip
    comps.sort(key=lambda c: -c["rating"])  # as the seed page lists them: best rating first
    cats.sort(key=lambda c: (c["rank"] is None, c["rank"] or 0, -c["rating"]))
    return {"competitions": comps, "categories": cats}

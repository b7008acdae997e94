"""``ArenaService``: battles, votes, boards and imports for the API, the CLI and the pages (``services.arena``).

Boards are refitted when votes arrive on this worker (the vote waits for the refit of its boards, milliseconds on
a gateway's own data) and every ``arena_refresh_s`` for votes recorded by other workers; a page or API read only
returns the last fit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, time
from typing import Any

import orjson

from imagegate.arena.battles import ArenaSpendCapReached, BattleMaker, load_input
from imagegate.arena.boards import BoardKey, BoardResult, Boards, FitOptions, compute
from imagegate.arena.fastchat import export_record, import_rows, parse
from imagegate.arena.gallery_feed import GALLERY_BATTLES, battle_items
from imagegate.arena.schema import TASK_TITLES, TASKS, Category, Competition, load_packaged
from imagegate.arena.store import ArenaStore, VoteConflict
from imagegate.arena.summary import model_summary
from imagegate.catalog.loader import Catalog
from imagegate.core.errors import GatewayError, InvalidRequest, RateLimitedError
from imagegate.pipeline import Gateway
from imagegate.settings import Settings
from imagegate.store.blobs import BlobStore
from imagegate.store.db import Database, utcnow

log = logging.getLogger("imagegate.arena")
VOTES = {"a": "model_a", "b": "model_b", "tie": "tie", "both_bad": "tie (bothbad)"}


class NotFound(GatewayError):
    status = 404
    code = "NOT_FOUND"


class Conflict(GatewayError):
    status = 409
    code = "CONFLICT"


def _anchor(value: str | None) -> tuple[str, float] | None:
    if not value:
        return None
    model, sep, rating = value.rpartition("=")
    if not sep or not model:
        raise ValueError(f"arena_anchor must look like 'model=rating', not {value!r}")
    return model.strip(), float(rating)


def _midnight() -> datetime:
    return datetime.combine(utcnow().date(), time(0), tzinfo=UTC)


class ArenaService:
    def __init__(
        self, settings: Settings, db: Database, catalog: Catalog, gateway: Gateway, blobs: BlobStore, base_url: str
    ) -> None:
        if settings.arena_sampling not in ("uncertain", "uniform"):
            raise ValueError(f"arena_sampling must be 'uncertain' or 'uniform', not {settings.arena_sampling!r}")
        self.settings = settings
        self.store = ArenaStore(db)
        self.catalog = catalog
        self.base_url = base_url.rstrip("/")
        self.maker = BattleMaker(
            gateway,
            blobs,
            size=settings.arena_size,
            image_ttl_s=settings.arena_image_ttl_s,
            max_pixels=settings.max_image_pixels,
        )
        self.opts = FitOptions(
            rounds=settings.arena_bootstrap_rounds,
            seed=settings.arena_seed,
            min_battles=settings.arena_min_battles,
            anchor=_anchor(settings.arena_anchor),
        )
        packaged = load_packaged(settings.arena_dirs)
        self._packaged = packaged
        self.competitions: dict[str, Competition] = {c.slug: c for c in packaged[0]}
        self.categories: dict[str, Category] = {c.slug: c for c in packaged[1]}
        self.boards = Boards(self.board_keys, self.opts)
        self._lock = asyncio.Lock()
        self._topping = asyncio.Lock()
        self._tasks: list[asyncio.Task] = []
        self._gallery: list[tuple[datetime, dict[str, Any]]] | None = None  # rebuilt on counted votes

    # -- life cycle --------------------------------------------------------------------------------------------

    async def start(self, background: bool = True) -> None:
        for kind, body in await asyncio.to_thread(self.store.definitions):
            self._add_definition(kind, orjson.loads(body))
        await self.refresh()
        if background:
            self._tasks.append(asyncio.create_task(self._refresh_loop(), name="imagegate-arena-refresh"))
            if self.settings.arena_pool_size > 0:
                self._tasks.append(asyncio.create_task(self._pool_loop(), name="imagegate-arena-pool"))

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.arena_refresh_s)
            try:
                await self.refresh()
            except Exception as exc:  # keep refreshing; say why without secrets
                log.warning("arena refresh failed: %s", type(exc).__name__)

    async def _pool_loop(self) -> None:
        while True:
            try:
                await self.top_up()
            except ArenaSpendCapReached:
                pass
            except Exception as exc:  # keep topping up; say why without secrets
                log.warning("arena pool top-up failed: %s", type(exc).__name__)
            await asyncio.sleep(max(5.0, self.settings.arena_refresh_s))

    async def top_up(self) -> int:
        """Generate battles until each task's pool holds ``arena_pool_size``; returns how many were made."""
        made = 0
        async with self._topping:  # one pass at a time in this worker (workers may overshoot a little together)
            for task in TASKS:
                missing = self.settings.arena_pool_size - await asyncio.to_thread(self.store.pool_size, task)
                if missing > 0:
                    made += await self.prefill(missing, task=task)
        return made

    async def refresh(self) -> None:
        """Take counted votes recorded since the last refresh (any worker) and refit the boards they changed."""
        async with self._lock:
            new = self.boards.add(await asyncio.to_thread(self.store.counted_since, self.boards.since()))
            if new or self._gallery is None:
                rows, expires = await asyncio.to_thread(self.store.gallery_battles, GALLERY_BATTLES)
                self._gallery = battle_items(rows, expires, self.competitions, self.base_url)
            for key, snapshot in self.boards.dirty():
                result = await asyncio.to_thread(compute, snapshot, self.opts)
                self.boards.states[key].result = result

    def gallery_items(self) -> list[dict[str, Any]]:
        """Both images of the latest counted battles, newest vote first, without expired images (memory only)."""
        now = utcnow()
        return [dict(item) for expiry, item in self._gallery or () if expiry > now]

    # -- competitions and categories ---------------------------------------------------------------------------

    def board_keys(self, task: str, competition: str | None) -> Iterator[BoardKey]:
        yield ("task", task)
        comp = self.competitions.get(competition) if competition else None
        if competition:
            yield ("competition", competition)
        if comp is not None:
            for cat in self.categories.values():
                if cat.task == comp.task and cat.use_case in comp.use_cases:
                    yield ("category", cat.slug)

    def _add_definition(self, kind: str, body: dict[str, Any]) -> None:
        if kind == "competition":
            comp = Competition.model_validate(body)
            self.competitions[comp.slug] = comp
        else:
            cat = Category.model_validate(body)
            self.categories[cat.slug] = cat

    async def add_definition(self, kind: str, body: Any) -> dict[str, Any]:
        """Validate and store a competition or category (admin API); boards are rebuilt to include it."""
        from pydantic import ValidationError

        model = Competition if kind == "competition" else Category
        try:
            item = model.model_validate(body)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err.get("loc", ())) or None
            raise InvalidRequest(f"{where or kind}: {err.get('msg')}", param=where) from None
        if isinstance(item, Competition):
            for name in item.input_images:
                await asyncio.to_thread(load_input, name, self.settings.max_image_pixels)
        taken = self.competitions if kind == "competition" else self.categories
        if item.slug in taken or not await asyncio.to_thread(
            self.store.add_definition, kind, item.slug, item.model_dump_json()
        ):
            raise Conflict(f"A {kind} '{item.slug}' already exists.", param="slug")
        self._add_definition(kind, item.model_dump())
        async with self._lock:  # a new category regroups existing battles: rebuild every board
            self.boards = Boards(self.board_keys, self.opts)
        await self.refresh()
        return self.describe(item)

    def describe(self, item: Competition | Category) -> dict[str, Any]:
        if isinstance(item, Category):
            board = self.boards.get(("category", item.slug))
            return {**item.model_dump(), "battles": board.battles if board else 0}
        board = self.boards.get(("competition", item.slug))
        body = item.model_dump(exclude={"input_images"})
        body["input_images"] = [self.input_url(item, i) for i in range(len(item.input_images))]
        body["categories"] = [k[1] for k in self.board_keys(item.task, item.slug) if k[0] == "category"]
        body["battles"] = board.battles if board else 0
        return body

    def input_url(self, comp: Competition, index: int, relative: bool = False) -> str:
        path = f"/arena/inputs/{comp.slug}/{index}"
        return path if relative else self.base_url + path

    def input_image(self, slug: str, index: int) -> tuple[bytes, str]:
        comp = self.competitions.get(slug)
        if comp is None or not 0 <= index < len(comp.input_images):
            raise NotFound("No such input image.")
        image = load_input(comp.input_images[index], self.settings.max_image_pixels)
        return image.data, image.mime_type

    def competition(self, slug: str) -> Competition:
        comp = self.competitions.get(slug)
        if comp is None:
            raise NotFound(f"No competition '{slug}'.", param="competition")
        return comp

    def category(self, slug: str) -> Category:
        cat = self.categories.get(slug)
        if cat is None:
            raise NotFound(f"No category '{slug}'.", param="category")
        return cat

    # -- battles -----------------------------------------------------------------------------------------------

    def _check_task(self, task: str | None) -> str:
        if not isinstance(task, str) or task not in TASKS:
            raise InvalidRequest(f"'task' must be one of {', '.join(TASKS)}.", param="task")
        return task

    async def battle(self, task: str | None, competition: str | None = None) -> dict[str, Any]:
        """A battle to vote on: from the pool when one is waiting, else generated now."""
        task = self._check_task(task)
        if competition is not None:
            comp = self.competition(competition)
            if comp.task != task:
                raise InvalidRequest(f"Competition '{competition}' is a {comp.task} competition.", param="competition")
        row = await asyncio.to_thread(self.store.take_pooled, task, competition)
        if row is None:
            row = await self.generate(task, competition, status="served")
        return self.battle_body(row)

    async def generate(self, task: str, competition: str | None = None, status: str = "pooled"):  # type: ignore[no-untyped-def]
        cap = self.settings.arena_daily_spend_usd
        if cap is not None and cap >= 0:
            spent = await asyncio.to_thread(self.store.spend_since, _midnight())
            if spent >= cap * 1_000_000:
                raise ArenaSpendCapReached(
                    f"The arena's daily generation budget (${cap:g}) is spent; battles resume tomorrow (UTC)."
                )
        pending = await asyncio.to_thread(self.store.pending, task)
        comp, models = self._pick_competition(task, competition, pending)
        a, b = self.maker.choose_pair(comp, models, self.boards, pending, self.settings.arena_sampling)
        ga, gb = await self.maker.generate(comp, a, b)
        return await asyncio.to_thread(
            self.store.add_battle,
            source="arena",
            task=task,
            competition=comp.slug,
            prompt=comp.prompt,
            model_a=a,
            model_b=b,
            image_a=ga.image,
            image_b=gb.image,
            cost_micros=ga.cost_micros + gb.cost_micros,
            status=status,
            served_at=utcnow() if status == "served" else None,
        )

    def _pick_competition(self, task: str, slug: str | None, pending: dict) -> tuple[Competition, list[str]]:
        if slug:
            comp = self.competition(slug)
            return comp, self.maker.servable(comp)
        options = []
        for comp in self.competitions.values():
            if comp.task != task:
                continue
            models = self.maker.servable(comp)
            if len(models) >= 2:
                board = self.boards.get(("competition", comp.slug))
                waiting = sum(n for (c, _, _), n in pending.items() if c == comp.slug)
                options.append(((board.battles if board else 0) + waiting, self.maker.rng.random(), comp, models))
        if not options:
            raise InvalidRequest(f"Fewer than two models on this gateway can serve a {task} battle.", param="task")
        if self.settings.arena_sampling == "uniform":
            _, _, comp, models = self.maker.rng.choice(options)
        else:  # the least covered competition first
            _, _, comp, models = min(options, key=lambda o: (o[0], o[1]))
        return comp, models

    async def prefill(self, n: int, task: str | None = None) -> int:
        """Generate ``n`` battles into the pool (spread over the tasks unless one is given)."""
        tasks = [self._check_task(task)] if task else list(TASKS)
        made = 0
        for i in range(n):
            await self.generate(tasks[i % len(tasks)])
            made += 1
        return made

    def image_url(self, image: str | None, relative: bool = False) -> str | None:
        if not image:
            return None
        return f"/files/{image}" if relative else f"{self.base_url}/files/{image}"

    def battle_body(self, row: Any, relative: bool = False) -> dict[str, Any]:
        comp = self.competitions.get(row.competition or "")
        body: dict[str, Any] = {
            "id": row.public_id,
            "object": "arena.battle",
            "task": row.task,
            "competition": row.competition,
            "competition_title": comp.title if comp else None,
            "prompt": row.prompt,
            "input_images": [self.input_url(comp, i, relative) for i in range(len(comp.input_images))] if comp else [],
            "a": {"url": self.image_url(row.image_a, relative)},
            "b": {"url": self.image_url(row.image_b, relative)},
            "voted": row.voted_at is not None,
        }
        if row.voted_at is not None or row.revealed_at is not None:
            body["a"]["model"], body["b"]["model"] = row.model_a, row.model_b
            body["a"]["name"], body["b"]["name"] = self.model_name(row.model_a), self.model_name(row.model_b)
        if row.voted_at is not None:
            body["winner"] = next(k for k, v in VOTES.items() if v == row.winner)
            body["counted"] = bool(row.counted)
        return body

    def model_name(self, model: str) -> str:
        record = self.catalog.get(model)
        return record.name if record else model

    async def get_battle(self, battle_id: str) -> dict[str, Any]:
        row = await asyncio.to_thread(self.store.get, battle_id)
        if row is None or row.source != "arena":
            raise NotFound(f"No battle '{battle_id}'.")
        return self.battle_body(row)

    async def reveal(self, battle_id: str) -> dict[str, Any]:
        await asyncio.to_thread(self.store.reveal, battle_id)
        return await self.get_battle(battle_id)

    async def vote(self, battle_id: str, winner: Any, voter: str) -> dict[str, Any]:
        if not isinstance(winner, str) or winner not in VOTES:
            raise InvalidRequest("'winner' must be one of a, b, tie, both_bad.", param="winner")
        row = await asyncio.to_thread(self.store.get, battle_id)
        if row is None or row.source != "arena" or row.status == "pooled":
            raise NotFound(f"No battle '{battle_id}'.")
        if row.voted_at is not None:
            raise Conflict("This battle already has a vote.", param="id")
        cap = self.settings.arena_votes_per_day
        if await asyncio.to_thread(self.store.votes_since, voter, _midnight()) >= cap:
            raise RateLimitedError(f"This voter has cast today's {cap} votes; voting resumes tomorrow (UTC).")
        try:
            row = await asyncio.to_thread(self.store.vote, battle_id, VOTES[winner], voter)
        except VoteConflict:
            raise Conflict("This battle already has a vote.", param="id") from None
        if row.counted:
            await self.refresh()
        return self.battle_body(row)

    # -- boards ------------------------------------------------------------------------------------------------

    def board_key(self, task: str | None, competition: str | None, category: str | None) -> BoardKey:
        if competition:
            return ("competition", self.competition(competition).slug)
        if category:
            return ("category", self.category(category).slug)
        return ("task", self._check_task(task or "text-to-image"))

    def board_title(self, key: BoardKey) -> str:
        kind, slug = key
        if kind == "competition":
            return self.competitions[slug].title
        if kind == "category":
            return self.categories[slug].title
        return f"{TASK_TITLES.get(slug, slug)} (overall)"

    def leaderboard(
        self, task: str | None = None, competition: str | None = None, category: str | None = None
    ) -> dict[str, Any]:
        key = self.board_key(task, competition, category)
        result = self.boards.get(key) or BoardResult([], 0, None, 0.0)
        rows = [{**r, "name": self.model_name(r["model"])} for r in result.rows]
        return {
            "object": "arena.leaderboard",
            "board": {"kind": key[0], "slug": key[1], "title": self.board_title(key)},
            "rows": rows,
            "ranked": sum(1 for r in rows if r["rank"] is not None),
            "battles": result.battles,
            "left_win_share": None if result.left_win_share is None else round(result.left_win_share, 4),
            "min_battles": self.opts.min_battles,
            "bootstrap_rounds": self.opts.rounds,
            "computed_at": result.computed_at or None,
        }

    def model_summary(self, model_id: str) -> dict[str, list[dict[str, Any]]]:
        """The model page's "Arena Benchmarks" (per competition) and "Use Cases & Category Performance"."""
        record = self.catalog.get(model_id)
        return model_summary(self.boards, self.competitions, self.categories, record.id if record else model_id)

    async def recent(self, competition: str | None, limit: int = 20) -> list[dict[str, Any]]:
        rows = await asyncio.to_thread(self.store.recent, competition, limit)
        return [self.battle_body(r, relative=True) | {"source": r.source} for r in rows]

    # -- FastChat import and export ----------------------------------------------------------------------------

    async def import_battles(self, data: bytes, task: str | None, competition: str | None) -> dict[str, Any]:
        task = self._check_task(task or "text-to-image")
        if competition is not None and self.competition(competition).task != task:
            raise InvalidRequest(f"Competition '{competition}' is not a {task} competition.", param="competition")
        try:
            records = await asyncio.to_thread(parse, data)
        except ValueError as exc:
            raise InvalidRequest(str(exc), param="file") from None
        rows = import_rows(records, task, competition, self._name)
        await asyncio.to_thread(self.store.insert_imported, rows)
        await self.refresh()
        counted = sum(1 for r in records if r.anony)
        return {"object": "arena.import", "imported": len(rows), "counted": counted, "skipped": len(rows) - counted}

    def _name(self, model: str) -> str:
        """A catalog model by id or alias becomes its id; any other name is rated as given."""
        record = self.catalog.get(model)
        return record.id if record else model

    def export_battles(self) -> Iterator[dict[str, Any]]:
        for row in self.store.voted():
            yield export_record(row)

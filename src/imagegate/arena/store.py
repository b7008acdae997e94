"""The arena's queries (blocking: call them off the event loop, as ``store/db.py`` explains)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, insert, select, update

from imagegate.store.arena_tables import ArenaBattleRow, ArenaDefinitionRow
from imagegate.store.db import Database, utcnow
from imagegate.store.models import BlobRow

WINNERS = ("model_a", "model_b", "tie", "tie (bothbad)")
SCORE = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5}


def new_battle_id() -> str:
    return "battle_" + secrets.token_hex(10)


@dataclass(frozen=True, slots=True)
class Counted:
    """A counted battle as the boards need it."""

    id: int
    task: str
    competition: str | None
    model_a: str
    model_b: str
    winner: str
    counted_at: datetime | None = None


class VoteConflict(Exception):
    """The battle already has a vote."""


class ArenaStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- battles -----------------------------------------------------------------------------------------------

    def add_battle(self, **values: Any) -> ArenaBattleRow:
        values = {"public_id": new_battle_id(), "created_at": utcnow(), "anony": True, "counted": False, **values}
        row = ArenaBattleRow(**values)
        with self.db.session.begin() as s:
            s.add(row)
        return row

    def take_pooled(self, task: str, competition: str | None) -> ArenaBattleRow | None:
        """Claim the oldest pooled battle of the task (and competition) for serving; safe across workers."""
        for _ in range(5):
            stmt = select(ArenaBattleRow.id).where(ArenaBattleRow.status == "pooled", ArenaBattleRow.task == task)
            if competition:
                stmt = stmt.where(ArenaBattleRow.competition == competition)
            with self.db.session.begin() as s:
                battle_id = s.scalars(stmt.order_by(ArenaBattleRow.id).limit(1)).first()
                if battle_id is None:
                    return None
                claimed = s.execute(
                    update(ArenaBattleRow)
                    .where(ArenaBattleRow.id == battle_id, ArenaBattleRow.status == "pooled")
                    .values(status="served", served_at=utcnow())
                ).rowcount  # type: ignore[attr-defined]
                if claimed:
                    return s.get(ArenaBattleRow, battle_id)
        return None

    def get(self, public_id: str) -> ArenaBattleRow | None:
        with self.db.session() as s:
            return s.scalars(select(ArenaBattleRow).where(ArenaBattleRow.public_id == public_id)).one_or_none()

    def reveal(self, public_id: str) -> None:
        """Show the names before any vote: the battle's vote will not count."""
        with self.db.session.begin() as s:
            s.execute(
                update(ArenaBattleRow)
                .where(
                    ArenaBattleRow.public_id == public_id,
                    ArenaBattleRow.voted_at.is_(None),
                    ArenaBattleRow.revealed_at.is_(None),
                )
                .values(revealed_at=utcnow())
            )

    def vote(self, public_id: str, winner: str, voter: str) -> ArenaBattleRow:
        """Record the vote once (a second raises ``VoteConflict``); it counts unless the names were revealed."""
        now = utcnow()
        counts = and_(ArenaBattleRow.revealed_at.is_(None), ArenaBattleRow.anony.is_(True))
        with self.db.session.begin() as s:
            done = s.execute(
                update(ArenaBattleRow)
                .where(ArenaBattleRow.public_id == public_id, ArenaBattleRow.voted_at.is_(None))
                .values(
                    status="voted",
                    winner=winner,
                    voter=voter,
                    voted_at=now,
                    tstamp=now.timestamp(),
                    counted=counts,
                    counted_at=case((counts, now), else_=None),
                )
            ).rowcount  # type: ignore[attr-defined]
            if not done:
                raise VoteConflict(public_id)
        row = self.get(public_id)
        assert row is not None
        return row

    def votes_since(self, voter: str, since: datetime) -> int:
        stmt = select(func.count()).where(ArenaBattleRow.voter == voter, ArenaBattleRow.voted_at >= since)
        with self.db.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def spend_since(self, since: datetime) -> int:
        stmt = select(func.coalesce(func.sum(ArenaBattleRow.cost_micros), 0)).where(
            ArenaBattleRow.source == "arena", ArenaBattleRow.created_at >= since
        )
        with self.db.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def pool_size(self, task: str) -> int:
        stmt = select(func.count()).where(ArenaBattleRow.status == "pooled", ArenaBattleRow.task == task)
        with self.db.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def pending(self, task: str) -> dict[tuple[str | None, str, str], int]:
        """Battles generated but not voted on, per (competition, model, model) with the names sorted."""
        stmt = (
            select(ArenaBattleRow.competition, ArenaBattleRow.model_a, ArenaBattleRow.model_b, func.count())
            .where(ArenaBattleRow.task == task, ArenaBattleRow.status.in_(("pooled", "served")))
            .group_by(ArenaBattleRow.competition, ArenaBattleRow.model_a, ArenaBattleRow.model_b)
        )
        out: dict[tuple[str | None, str, str], int] = {}
        with self.db.engine.connect() as conn:
            for comp, a, b, n in conn.execute(stmt):
                lo, hi = sorted((a, b))
                out[(comp, lo, hi)] = out.get((comp, lo, hi), 0) + int(n)
        return out

    def counted_since(self, since: datetime | None) -> list[Counted]:
        """Counted battles that entered the boards at or after ``since`` (all when None), in that order."""
        stmt = select(
            ArenaBattleRow.id,
            ArenaBattleRow.task,
            ArenaBattleRow.competition,
            ArenaBattleRow.model_a,
            ArenaBattleRow.model_b,
            ArenaBattleRow.winner,
            ArenaBattleRow.counted_at,
        ).where(ArenaBattleRow.counted.is_(True))
        if since is not None:
            stmt = stmt.where(ArenaBattleRow.counted_at >= since)
        stmt = stmt.order_by(ArenaBattleRow.counted_at, ArenaBattleRow.id).execution_options(yield_per=10_000)
        with self.db.session() as s:
            return [Counted(r[0], r[1], r[2], r[3], r[4], r[5] or "tie", r[6]) for r in s.execute(stmt)]

    def recent(self, competition: str | None, limit: int = 20) -> list[ArenaBattleRow]:
        stmt = select(ArenaBattleRow).where(ArenaBattleRow.status == "voted")
        if competition:
            stmt = stmt.where(ArenaBattleRow.competition == competition)
        with self.db.session() as s:
            return list(s.scalars(stmt.order_by(ArenaBattleRow.id.desc()).limit(limit)))

    def gallery_battles(self, limit: int) -> tuple[list[ArenaBattleRow], dict[str, datetime]]:
        """The latest ``limit`` counted arena battles with both images, newest vote first, and when each image's
        blob expires (by blob token; a token missing from the map is already gone)."""
        stmt = (
            select(ArenaBattleRow)
            .where(
                ArenaBattleRow.source == "arena",
                ArenaBattleRow.counted.is_(True),
                ArenaBattleRow.image_a.is_not(None),
                ArenaBattleRow.image_b.is_not(None),
            )
            .order_by(ArenaBattleRow.counted_at.desc(), ArenaBattleRow.id.desc())
            .limit(limit)
        )
        with self.db.session() as s:
            rows = list(s.scalars(stmt))
            tokens = {str(img).split(".", 1)[0] for r in rows for img in (r.image_a, r.image_b)}
            expiry = select(BlobRow.token, BlobRow.expires_at).where(BlobRow.token.in_(tokens)) if tokens else None
            expires = {t: e for t, e in s.execute(expiry)} if expiry is not None else {}
        return rows, expires

    def insert_imported(self, rows: Sequence[dict[str, Any]]) -> int:
        """All rows in one transaction: nothing is half-imported."""
        if not rows:
            return 0
        with self.db.engine.begin() as conn:
            for start in range(0, len(rows), 5000):
                conn.execute(insert(ArenaBattleRow), list(rows[start : start + 5000]))
        return len(rows)

    def voted(self, batch: int = 5000) -> Iterator[ArenaBattleRow]:
        """Every voted battle, oldest first (for export)."""
        last = 0
        while True:
            stmt = (
                select(ArenaBattleRow)
                .where(ArenaBattleRow.status == "voted", ArenaBattleRow.id > last)
                .order_by(ArenaBattleRow.id)
                .limit(batch)
            )
            with self.db.session() as s:
                rows = list(s.scalars(stmt))
            if not rows:
                return
            yield from rows
            last = rows[-1].id

    # -- definitions added through the admin API ---------------------------------------------------------------

    def add_definition(self, kind: str, slug: str, body: str) -> bool:
        """False when the slug is taken."""
        with self.db.session.begin() as s:
            if s.get(ArenaDefinitionRow, (kind, slug)) is not None:
                return False
            s.add(ArenaDefinitionRow(kind=kind, slug=slug, body=body, created_at=utcnow()))
        return True

    def definitions(self) -> list[tuple[str, str]]:
        """``(kind, body)`` in the order they were added."""
        stmt = select(ArenaDefinitionRow.kind, ArenaDefinitionRow.body).order_by(ArenaDefinitionRow.created_at)
        with self.db.engine.connect() as conn:
            return [(r[0], r[1]) for r in conn.execute(stmt)]

"""Boards kept in memory: each board's outcome counts grow as counted votes arrive (incremental), and only boards
that changed are refitted (off the event loop). Reading a board never computes anything.

A board is ``("task", task)``, ``("competition", slug)`` or ``("category", slug)``. The Bradley-Terry fit needs only
the counts of unique ``(left model, right model, outcome)`` rows, so a board's memory is bounded by its pairs, not
its battles; online Elo is updated battle by battle in vote order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from imagegate.arena import ratings
from imagegate.arena.store import SCORE, Counted

BoardKey = tuple[str, str]
LAG = timedelta(minutes=5)  # how far back each refresh re-reads (clock skew between workers, slow commits)


@dataclass
class BoardResult:
    rows: list[dict[str, Any]]
    battles: int
    left_win_share: float | None
    computed_at: float


@dataclass
class BoardState:
    index: dict[str, int] = field(default_factory=dict)
    counts: dict[tuple[int, int, float], int] = field(default_factory=dict)
    online: dict[str, float] = field(default_factory=dict)
    battles: int = 0
    left_wins: int = 0
    decisive: int = 0
    dirty: bool = True
    result: BoardResult | None = None

    def add(self, model_a: str, model_b: str, y: float) -> None:
        key = (self.index.setdefault(model_a, len(self.index)), self.index.setdefault(model_b, len(self.index)), y)
        self.counts[key] = self.counts.get(key, 0) + 1
        ratings.online_update(self.online, model_a, model_b, y)
        self.battles += 1
        if y != 0.5:
            self.decisive += 1
            self.left_wins += y == 1.0
        self.dirty = True

    def pair_count(self, a: str, b: str) -> int:
        i, j = self.index.get(a), self.index.get(b)
        if i is None or j is None:
            return 0
        return sum(n for (x, z, _), n in self.counts.items() if {x, z} == {i, j})


@dataclass(frozen=True)
class FitOptions:
    rounds: int = 100
    seed: int = 42
    min_battles: int = 4
    anchor: tuple[str, float] | None = None


def compute(snapshot: tuple[list[str], dict, dict[str, float], int, int, int], opts: FitOptions) -> BoardResult:
    """Fit one board from a snapshot of its state (runs in a worker thread)."""
    models, counts, online, battles, left_wins, decisive = snapshot
    rated = ratings.rate(
        ratings.Outcomes.from_counts(models, counts),
        rounds=opts.rounds,
        seed=opts.seed,
        min_battles=opts.min_battles,
        anchor=opts.anchor,
    )
    rows = []
    for r in rated:
        row = r.as_dict()
        row["online_elo"] = round(online.get(r.model, ratings.INIT_RATING), 2)
        rows.append(row)
    return BoardResult(rows, battles, (left_wins / decisive) if decisive else None, time.time())


class Boards:
    """Every board's state. ``keys_for(task, competition)`` says which boards a battle belongs to."""

    def __init__(self, keys_for: Callable[[str, str | None], Iterable[BoardKey]], opts: FitOptions) -> None:
        self.keys_for = keys_for
        self.opts = opts
        self.states: dict[BoardKey, BoardState] = {}
        self.watermark: datetime | None = None  # the latest counted_at taken in
        self._seen: dict[int, datetime] = {}  # ids taken in within LAG of the watermark

    def since(self) -> datetime | None:
        """Where the next refresh reads from: a window back from the watermark, because votes committed by other
        workers (or a little late) can carry a slightly earlier time than ones already read."""
        return None if self.watermark is None else self.watermark - LAG

    def add(self, battles: Iterable[Counted]) -> int:
        """Take in counted battles not seen yet; returns how many were new."""
        new = 0
        for b in battles:
            if b.id in self._seen:
                continue
            when = b.counted_at or datetime.now(UTC)
            self._seen[b.id] = when
            y = SCORE[b.winner]
            for key in self.keys_for(b.task, b.competition):
                self.states.setdefault(key, BoardState()).add(b.model_a, b.model_b, y)
            self.watermark = when if self.watermark is None else max(self.watermark, when)
            new += 1
        if self.watermark is not None and len(self._seen) > 1000:
            horizon = self.watermark - LAG
            self._seen = {i: t for i, t in self._seen.items() if t >= horizon}
        return new

    def dirty(self) -> list[tuple[BoardKey, tuple]]:
        """Snapshots of the boards that changed since their last fit (taken on the loop, fitted in a thread)."""
        out = []
        for key, st in self.states.items():
            if st.dirty:
                st.dirty = False
                out.append(
                    (key, (list(st.index), dict(st.counts), dict(st.online), st.battles, st.left_wins, st.decisive))
                )
        return out

    def get(self, key: BoardKey) -> BoardResult | None:
        st = self.states.get(key)
        return st.result if st else None

    def state(self, key: BoardKey) -> BoardState | None:
        return self.states.get(key)

"""Bradley-Terry ratings with bootstrap confidence intervals, ranks and online Elo (FastChat's conventions).

Battles are collapsed to unique ``(a, b, y)`` rows with counts, ``y`` = 1 (a won), 0 (b won) or 0.5 (tie or both
bad: half a win each way). The fit minimises ``-sum w [y log s(ln10 (x_a - x_b)) + (1 - y) log(1 - s(...))]`` and
reports ``R = 400 x + 1000``. A weak ridge (``RIDGE``) fixes the one free direction of the likelihood (adding a
constant to every ``x``) at mean zero, so with no anchor the ratings' mean is 1000, and keeps a model that won every
battle finite (one 1-0 battle reads 1460 / 540, not infinity); a model with a dozen battles moves by a
fraction of a point, one with thousands by far less than a hundredth.

The solver is Newton's method on all bootstrap rounds at once (one small ``m x m`` system per round), so 100 rounds
over 100,000 battles take a fraction of a second (``bench/arena``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

SCALE = 400.0
BASE = 10.0
INIT_RATING = 1000.0
RIDGE = 1e-2
ONLINE_K = 4.0
_LN = math.log(BASE)


@dataclass(frozen=True, slots=True)
class Outcomes:
    """Unique battle rows: model indexes ``a``/``b`` (a shown on the left), outcome ``y`` and count ``w``."""

    models: tuple[str, ...]
    a: np.ndarray
    b: np.ndarray
    y: np.ndarray
    w: np.ndarray

    @classmethod
    def from_counts(cls, models: Sequence[str], counts: dict[tuple[int, int, float], int]) -> Outcomes:
        """Models sorted by name and rows sorted, so the bootstrap's draws depend on the battles, not their order."""
        order = sorted(range(len(models)), key=lambda k: models[k])
        new = {old: pos for pos, old in enumerate(order)}
        counts = {(new[a], new[b], y): n for (a, b, y), n in counts.items()}
        models = [models[k] for k in order]
        keys = sorted(counts)
        return cls(
            tuple(models),
            np.array([k[0] for k in keys], dtype=np.intp),
            np.array([k[1] for k in keys], dtype=np.intp),
            np.array([k[2] for k in keys], dtype=float),
            np.array([counts[k] for k in keys], dtype=float),
        )

    @classmethod
    def from_battles(cls, battles: Iterable[tuple[str, str, float]]) -> Outcomes:
        """From ``(model_a, model_b, y)`` triples."""
        index: dict[str, int] = {}
        counts: dict[tuple[int, int, float], int] = {}
        for ma, mb, y in battles:
            key = (index.setdefault(ma, len(index)), index.setdefault(mb, len(index)), float(y))
            counts[key] = counts.get(key, 0) + 1
        return cls.from_counts(list(index), counts)

    @property
    def battles(self) -> int:
        return int(self.w.sum())


def _pairs(o: Outcomes) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fold rows onto unordered pairs ``i < j``: ``inverse`` maps each row to its pair, ``flip`` marks rows whose a
    is the pair's j (their score counts for j)."""
    lo = np.minimum(o.a, o.b)
    hi = np.maximum(o.a, o.b)
    pair_keys, inverse = np.unique(lo * len(o.models) + hi, return_inverse=True)
    m = len(o.models)
    return pair_keys // m, pair_keys % m, inverse, o.a != lo


def fit(o: Outcomes, weights: np.ndarray | None = None) -> np.ndarray:
    """``x`` (natural units) for each model; ``weights``: ``(rounds, rows)`` counts for a batch of refits."""
    m = len(o.models)
    if m == 0:
        return np.zeros((0,) if weights is None else (len(weights), 0))
    w = o.w[None, :] if weights is None else np.asarray(weights, dtype=float)
    i, j, inverse, flip = _pairs(o)
    n_pairs = len(i)
    score_i = np.where(flip, 1.0 - o.y, o.y)  # the row's score for the pair's first model
    rounds = len(w)
    n = np.zeros((rounds, n_pairs))
    s = np.zeros((rounds, n_pairs))
    for r in range(rounds):  # fold rows onto pairs (bincount per round: O(rows))
        n[r] = np.bincount(inverse, weights=w[r], minlength=n_pairs)
        s[r] = np.bincount(inverse, weights=w[r] * score_i, minlength=n_pairs)
    # Many small systems: BLAS threads only contend (100 models, 100 rounds: 8 s threaded, 1 s on one thread on a
    # busy 2-core machine), so the solver runs single-threaded.
    with threadpool_limits(limits=1, user_api="blas"):
        x = _newton(i, j, n, s, m)
    return x[0] if weights is None else x


def _newton(i: np.ndarray, j: np.ndarray, n: np.ndarray, s: np.ndarray, m: int) -> np.ndarray:
    rounds = n.shape[0]
    x = np.zeros((rounds, m))
    eye = np.eye(m) * RIDGE
    flat_i = (np.arange(rounds)[:, None] * m + i[None, :]).ravel()
    flat_j = (np.arange(rounds)[:, None] * m + j[None, :]).ravel()
    for _ in range(100):
        z = _LN * (x[:, i] - x[:, j])
        p = 1.0 / (1.0 + np.exp(-z))
        g = _LN * (n * p - s)  # d(-loglik)/d x_i per pair; the negative for x_j
        h = _LN * _LN * n * p * (1.0 - p)
        size = rounds * m
        grad = (
            np.bincount(flat_i, weights=g.ravel(), minlength=size)
            - np.bincount(flat_j, weights=g.ravel(), minlength=size)
        ).reshape(rounds, m) + RIDGE * x
        diag = (
            np.bincount(flat_i, weights=h.ravel(), minlength=size)
            + np.bincount(flat_j, weights=h.ravel(), minlength=size)
        ).reshape(rounds, m)
        hess = np.broadcast_to(eye, (rounds, m, m)).copy()
        hess[:, np.arange(m), np.arange(m)] += diag
        hess[:, i, j] -= h
        hess[:, j, i] -= h
        step = np.linalg.solve(hess, grad[..., None])[..., 0]
        biggest = np.abs(step).max(axis=1, keepdims=True)
        step = np.where(biggest > 1.0, step / np.maximum(biggest, 1e-300), step)  # damped far from the optimum
        x -= step
        if float(np.abs(step).max()) < 1e-8:  # 4e-6 rating points
            break
    return x


def to_ratings(x: np.ndarray, models: Sequence[str], anchor: tuple[str, float] | None = None) -> np.ndarray:
    """``400 x + 1000`` centred on a mean of 1000, or shifted so the anchor model has its fixed rating."""
    r = SCALE * (x - x.mean(axis=-1, keepdims=True)) + INIT_RATING
    if anchor is not None and anchor[0] in models:
        k = list(models).index(anchor[0])
        r = r - r[..., k : k + 1] + anchor[1]
    return r


def bootstrap(o: Outcomes, rounds: int = 100, seed: int = 42, anchor: tuple[str, float] | None = None) -> np.ndarray:
    """``(rounds, models)`` ratings refitted on multinomial resamples of the battles (seeded: results repeat)."""
    if rounds <= 0 or o.battles == 0:
        return np.zeros((0, len(o.models)))
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(o.battles, o.w / o.w.sum(), size=rounds)
    return to_ratings(fit(o, draws), o.models, anchor)


def ranks(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """``1 + #{m' : lower(m') > upper(m)}``: a model is outranked only by models clearly better than it."""
    return 1 + (lower[None, :] > upper[:, None]).sum(axis=1)


def online_elo(battles: Iterable[tuple[str, str, float]], k: float = ONLINE_K) -> dict[str, float]:
    """Sequential Elo (order-dependent; for comparison only)."""
    r: dict[str, float] = {}
    for a, b, y in battles:
        ra, rb = r.get(a, INIT_RATING), r.get(b, INIT_RATING)
        p = 1.0 / (1.0 + BASE ** ((rb - ra) / SCALE))
        r[a] = ra + k * (y - p)
        r[b] = rb - k * (y - p)
    return r


def online_update(r: dict[str, float], a: str, b: str, y: float, k: float = ONLINE_K) -> None:
    ra, rb = r.get(a, INIT_RATING), r.get(b, INIT_RATING)
    p = 1.0 / (1.0 + BASE ** ((rb - ra) / SCALE))
    r[a] = ra + k * (y - p)
    r[b] = rb - k * (y - p)


@dataclass(frozen=True, slots=True)
class Rated:
    """One model's figures on a board."""

    model: str
    rating: float
    lower: float
    upper: float
    rank: int | None  # None: fewer battles than the board's minimum
    wins: int
    losses: int
    ties: int
    battles: int
    win_rate: float | None

    def as_dict(self) -> dict[str, object]:
        return {
            "model": self.model,
            "rating": round(self.rating, 2),
            "lower": round(self.lower, 2),
            "upper": round(self.upper, 2),
            "rank": self.rank,
            "wins": self.wins,
            "losses": self.losses,
            "ties": self.ties,
            "battles": self.battles,
            "win_rate": None if self.win_rate is None else round(self.win_rate, 4),
        }


def rate(
    o: Outcomes,
    *,
    rounds: int = 100,
    seed: int = 42,
    min_battles: int = 4,
    anchor: tuple[str, float] | None = None,
) -> list[Rated]:
    """The board: MLE ratings, 95 % bootstrap intervals, ranks among the models with at least ``min_battles``,
    W/L/T and win rate (wins / battles, as the reference service shows it). Sorted by (rank, -rating); unranked
    models last."""
    m = len(o.models)
    if m == 0:
        return []
    rating = to_ratings(fit(o), o.models, anchor)
    boot = bootstrap(o, rounds, seed, anchor)
    if len(boot):
        lower, upper = np.quantile(boot, 0.025, axis=0), np.quantile(boot, 0.975, axis=0)
    else:
        lower = upper = rating
    wins = np.bincount(o.a, weights=o.w * (o.y == 1), minlength=m) + np.bincount(
        o.b, weights=o.w * (o.y == 0), minlength=m
    )
    losses = np.bincount(o.a, weights=o.w * (o.y == 0), minlength=m) + np.bincount(
        o.b, weights=o.w * (o.y == 1), minlength=m
    )
    ties = np.bincount(o.a, weights=o.w * (o.y == 0.5), minlength=m) + np.bincount(
        o.b, weights=o.w * (o.y == 0.5), minlength=m
    )
    total = wins + losses + ties
    eligible = total >= min_battles
    rank = np.zeros(m, dtype=int)
    if eligible.any():
        rank[eligible] = ranks(lower[eligible], upper[eligible])
    rows = [
        Rated(
            model=o.models[k],
            rating=float(rating[k]),
            lower=float(lower[k]),
            upper=float(upper[k]),
            rank=int(rank[k]) if eligible[k] else None,
            wins=int(wins[k]),
            losses=int(losses[k]),
            ties=int(ties[k]),
            battles=int(total[k]),
            win_rate=float(wins[k] / total[k]) if total[k] else None,
        )
        for k in range(m)
    ]
    return sorted(rows, key=lambda r: (r.rank is None, r.rank or 0, -r.rating, r.model))

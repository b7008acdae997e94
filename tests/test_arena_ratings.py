"""Bradley-Terry ratings against an independent fit (scipy's L-BFGS on a logistic regression of the same rows),
bootstrap coverage of known true ratings, ranks, online Elo."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize

from imagegate.arena import ratings
from imagegate.arena.ratings import Outcomes


def synthetic(true: dict[str, float], n: int, seed: int, tie_rate: float = 0.2) -> list[tuple[str, str, float]]:
    """Battles between random pairs drawn from known ratings. Ties are drawn so that a tie counted as half a win
    keeps the expected score at the BT probability (ties are likelier between close models)."""
    rng = np.random.default_rng(seed)
    names = list(true)
    out = []
    for _ in range(n):
        a, b = rng.choice(len(names), size=2, replace=False)
        ma, mb = names[a], names[b]
        p = 1 / (1 + 10 ** ((true[mb] - true[ma]) / 400))
        tie = tie_rate * 2 * min(p, 1 - p)
        u = rng.random()
        out.append((ma, mb, 0.5 if u < tie else (1.0 if u < tie + p - tie / 2 else 0.0)))
    return out


def independent_fit(battles: list[tuple[str, str, float]]) -> dict[str, float]:
    """Logistic regression written from the definition: one row per battle, X = +ln10 for a, -ln10 for b, tie =
    half a win each way (a row with y=1 and one with y=0, each weighted 1/2), no intercept; then 400 x + 1000
    centred on 1000."""
    names = sorted({m for a, b, _ in battles for m in (a, b)})
    idx = {m: i for i, m in enumerate(names)}
    rows, ys, ws = [], [], []
    for a, b, y in battles:
        x = np.zeros(len(names))
        x[idx[a]], x[idx[b]] = math.log(10), -math.log(10)
        if y == 0.5:
            rows += [x, x]
            ys += [1.0, 0.0]
            ws += [0.5, 0.5]
        else:
            rows.append(x)
            ys.append(y)
            ws.append(1.0)
    X, Y, W = np.array(rows), np.array(ys), np.array(ws)

    def loss(beta: np.ndarray) -> tuple[float, np.ndarray]:
        z = X @ beta
        ll = W * (Y * -np.logaddexp(0, -z) + (1 - Y) * -np.logaddexp(0, z))
        p = 1 / (1 + np.exp(-z))
        return -ll.sum(), -(X.T @ (W * (Y - p)))

    res = minimize(loss, np.zeros(len(names)), jac=True, method="L-BFGS-B", options={"gtol": 1e-12, "ftol": 1e-15})
    r = 400 * res.x + 1000
    r = r - r.mean() + 1000
    return dict(zip(names, r, strict=True))


TRUE = {
    "alpha": 1250.0,
    "bravo": 1180.0,
    "charlie": 1100.0,
    "delta": 1060.0,
    "echo": 1000.0,
    "foxtrot": 950.0,
    "golf": 900.0,
    "hotel": 820.0,
    "india": 760.0,
    "juliet": 980.0,
}


def test_mle_matches_an_independent_logistic_regression() -> None:
    battles = synthetic(TRUE, 6000, seed=1)
    o = Outcomes.from_battles(battles)
    ours = dict(zip(o.models, ratings.to_ratings(ratings.fit(o), o.models), strict=True))
    ref = independent_fit(battles)
    assert set(ours) == set(ref)
    for m in ref:
        assert abs(ours[m] - ref[m]) < 0.5, (m, ours[m], ref[m])
    assert abs(np.mean(list(ours.values())) - 1000) < 1e-6
    # ranks by rating identical
    assert sorted(ours, key=ours.__getitem__) == sorted(ref, key=ref.__getitem__)


def test_board_ranks_equal_the_rule_applied_to_the_reference_fit() -> None:
    battles = synthetic(TRUE, 6000, seed=2)
    board = ratings.rate(Outcomes.from_battles(battles), rounds=100, seed=7)
    ref = independent_fit(battles)
    for row in board:
        assert abs(row.rating - ref[row.model]) < 0.5
        assert row.lower <= row.rating <= row.upper
        expected = 1 + sum(1 for other in board if other.lower > row.upper)
        assert row.rank == expected
    assert board[0].model == "alpha" and board[0].rank == 1
    assert [r.rank for r in board] == sorted(r.rank for r in board)


def test_bootstrap_intervals_cover_the_true_ratings() -> None:
    covered = total = 0
    for seed in range(20):  # 200 intervals: a 95 % interval's coverage measured to about +-2 %
        battles = synthetic(TRUE, 3000, seed=100 + seed)
        board = ratings.rate(Outcomes.from_battles(battles), rounds=100, seed=seed)
        centre = np.mean(list(TRUE.values()))
        for row in board:
            truth = TRUE[row.model] - centre + 1000  # the fit is centred on 1000
            covered += row.lower <= truth <= row.upper
            total += 1
    assert covered / total >= 0.9, f"{covered}/{total}"


def test_bootstrap_is_seeded() -> None:
    o = Outcomes.from_battles(synthetic(TRUE, 800, seed=3))
    a = ratings.bootstrap(o, rounds=20, seed=5)
    b = ratings.bootstrap(o, rounds=20, seed=5)
    c = ratings.bootstrap(o, rounds=20, seed=6)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_anchor_pins_a_model() -> None:
    o = Outcomes.from_battles(synthetic(TRUE, 2000, seed=4))
    board = {r.model: r for r in ratings.rate(o, rounds=10, anchor=("echo", 1200.0))}
    free = {r.model: r for r in ratings.rate(o, rounds=10)}
    assert board["echo"].rating == pytest.approx(1200.0)
    shift = 1200.0 - free["echo"].rating
    assert board["alpha"].rating == pytest.approx(free["alpha"].rating + shift)


def test_record_min_battles_and_ties() -> None:
    battles = [("a", "b", 1.0)] * 3 + [("b", "a", 0.5)] + [("a", "c", 1.0)] * 2 + [("c", "b", 0.0)]
    board = {r.model: r for r in ratings.rate(Outcomes.from_battles(battles), rounds=10, min_battles=4)}
    assert (board["a"].wins, board["a"].losses, board["a"].ties, board["a"].battles) == (5, 0, 1, 6)
    assert (board["b"].wins, board["b"].losses, board["b"].ties) == (1, 3, 1)
    assert board["c"].battles == 3 and board["c"].rank is None  # below the minimum: not ranked
    assert board["a"].win_rate == pytest.approx(5 / 6)
    assert all(math.isfinite(r.rating) for r in board.values())  # a model that never lost stays finite


def test_online_elo_is_order_dependent_and_bt_is_not() -> None:
    battles = synthetic(TRUE, 400, seed=9)
    forward = ratings.online_elo(battles)
    backward = ratings.online_elo(list(reversed(battles)))
    assert forward != backward
    assert forward["alpha"] > 1000 > forward["india"]
    f1 = ratings.to_ratings(ratings.fit(Outcomes.from_battles(battles)), sorted(TRUE))
    f2 = ratings.to_ratings(ratings.fit(Outcomes.from_battles(list(reversed(battles)))), sorted(TRUE))
    assert sorted(np.round(f1, 6)) == sorted(np.round(f2, 6))

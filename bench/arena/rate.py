"""Time the arena's rating of N battles with the bootstrap: collapse to counts, MLE, 100 refits, ranks.

    .venv/bin/python bench/arena/rate.py --battles 100000 --models 30 --rounds 100 --repeat 5

Battles are drawn from known ratings (ties included) between random pairs, then rated exactly as a board is
(``imagegate.arena.ratings.rate`` on the counts ``arena/boards.py`` keeps). Prints and writes a JSON result with
each phase's time (best and median of ``--repeat`` runs) and the largest |rating - truth|.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from imagegate.arena import ratings
from imagegate.arena.ratings import Outcomes


def draw(n: int, models: int, seed: int) -> tuple[list[str], np.ndarray, list[tuple[str, str, float]]]:
    rng = np.random.default_rng(seed)
    names = [f"model-{i:02d}" for i in range(models)]
    true = rng.normal(1000, 150, size=models)
    a = rng.integers(0, models, size=n)
    b = (a + rng.integers(1, models, size=n)) % models
    p = 1 / (1 + 10 ** ((true[b] - true[a]) / 400))
    tie = 0.2 * 2 * np.minimum(p, 1 - p)
    u = rng.random(n)
    y = np.where(u < tie, 0.5, np.where(u < tie + p - tie / 2, 1.0, 0.0))
    battles = [(names[i], names[j], float(v)) for i, j, v in zip(a, b, y, strict=True)]
    return names, true, battles


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--battles", type=int, default=100_000)
    ap.add_argument("--models", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("results") / "rate.json")
    args = ap.parse_args()
    names, true, battles = draw(args.battles, args.models, seed=1)
    runs: list[dict[str, float]] = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        o = Outcomes.from_battles(battles)  # what boards.py keeps incrementally (counts per unique row)
        t1 = time.perf_counter()
        board = ratings.rate(o, rounds=args.rounds, seed=42)
        t2 = time.perf_counter()
        runs.append({"collapse_s": t1 - t0, "rate_s": t2 - t1, "total_s": t2 - t0})
    truth = dict(zip(names, true - true.mean() + 1000, strict=True))
    worst = max(abs(r.rating - truth[r.model]) for r in board)
    covered = sum(r.lower <= truth[r.model] <= r.upper for r in board) / len(board)
    result = {
        "battles": args.battles,
        "models": args.models,
        "unique_rows": len(o.w),
        "bootstrap_rounds": args.rounds,
        "repeat": args.repeat,
        "best": {k: min(r[k] for r in runs) for k in runs[0]},
        "median": {k: statistics.median(r[k] for r in runs) for k in runs[0]},
        "max_abs_error_vs_truth": round(worst, 2),
        "interval_coverage": covered,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": f"{platform.machine()}, shared with other jobs while measured",
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""How much can hedging cut p95 on a fleet? An upper bound from the fleet's own fault model, no simulation.

    .venv/bin/python bench/routing/hedging_bound.py                       # the seed's profiles
    .venv/bin/python bench/routing/hedging_bound.py --p95 42.2 --cut 0.30 --extra-spend 0.10
    .venv/bin/python bench/routing/hedging_bound.py --scenario stragglers  # 5 % of gemini's answers 6x slower

The fleet (``imagegate.testing.profiles``): each provider succeeds with probability ``p`` after a lognormal
latency fitted to its p50/p95, and fails after a latency drawn the same way. For a target ``t* = (1 - cut) x p95``
the argument is:

1. ``G_k(t)``, the probability that a chain of back-to-back attempts starting on provider ``k`` has succeeded by
   ``t``, solves ``G_k(t) = p_k F_k(t) + (1 - p_k) int f_k(s) E(t - s) ds``, where ``E`` is the envelope: after a
   failure the chain goes on with whichever provider does best for the time left. ``E``'s 0.95 point is the best
   p95 any routing without hedging can reach.
2. A request is done by ``t*`` only if its own chain is, or a hedge started for it is. Hedges draw their own
   latencies, so ``P(T <= t*) <= G_k(t*) + E[hedges that succeed by t*]`` for a request that starts on ``k``.
3. Without free cancellation a hedge that succeeds is billed, and so is the attempt it races (which still
   succeeds with probability ``p_k``): an extra spend ``x`` (a share of one image per request) allows at most
   ``x / p_k`` hedge successes per request.
4. The best any policy can do is then a small linear programme over which provider requests start on and where
   the hedge budget goes (``best_mix``); where its value is under 0.95 the cut is out of reach. If cancelled
   generations were never billed, step 3 falls away; the script then reports how early a hedge would have to
   start (for every request still running) to reach the cut.
"""

from __future__ import annotations

import argparse
import math

from imagegate.testing.profiles import BEST, SEED_FIGURES, STRAGGLER_FACTOR, STRAGGLER_RATE

DT = 0.1  # seconds per integration step


def lognormal(p50: float, p95: float) -> tuple[float, float]:
    return math.log(p50), math.log(p95 / p50) / 1.6448536269514722


def cdf(t: float, mu: float, sigma: float) -> float:
    return 0.0 if t <= 0 else 0.5 * (1 + math.erf((math.log(t) - mu) / (sigma * math.sqrt(2))))


class Provider:
    """One provider's latency distribution (with stragglers) and success rate, on the integration grid."""

    def __init__(self, name: str, p50: float, p95: float, p: float, n: int, straggler: tuple[float, float]) -> None:
        self.name, self.p = name, p
        mu, sigma = lognormal(p50, p95)
        rate, factor = straggler
        slow_mu = mu + math.log(factor)
        self.cdf = [(1 - rate) * cdf(i * DT, mu, sigma) + rate * cdf(i * DT, slow_mu, sigma) for i in range(n)]
        self.density = [(self.cdf[i] - self.cdf[i - 1]) if i else 0.0 for i in range(n)]

    def stage(self, i: int, then: list[float]) -> float:
        """P(success by i DT) when this provider is tried first and ``then`` bounds what follows a failure."""
        retry = sum(self.density[k] * then[i - k] for k in range(1, i + 1))
        return self.p * self.cdf[i] + (1 - self.p) * retry


def envelope(providers: list[Provider], n: int) -> list[float]:
    """The best chain: at every attempt the provider that maximises P(success by t) for the time left."""
    best = [0.0] * n
    for i in range(n):
        best[i] = max(pr.stage(i, best) for pr in providers)
    return best


def quantile(g: list[float], q: float) -> float:
    return next((i * DT for i, v in enumerate(g) if v >= q), math.inf)


def best_mix(first: dict[str, float], success: dict[str, float], spend: float) -> tuple[float, str]:
    """Max over policies of P(T <= t*) = sum_k w_k G_k + y_k, where w_k is the share of requests whose first
    attempt goes to provider k, y_k the hedge successes they get (at most w_k (1 - G_k)), and the budget
    sum_k p_k y_k <= spend (each hedge success bills the raced attempt's success with probability p_k).
    Two providers suffice at an optimum of this linear programme; a grid over their split finds it."""
    names = list(first)
    best, how = 0.0, ""
    for a in names:
        for b in names:
            for step in range(0, 1001):
                w = {a: step / 1000, b: 1 - step / 1000} if a != b else {a: 1.0}
                value = sum(wk * first[k] for k, wk in w.items())
                budget = spend
                for k in sorted(w, key=lambda k: success[k]):  # cheapest hedge successes first
                    y = min(w[k] * (1 - first[k]), budget / success[k])
                    value += y
                    budget -= y * success[k]
                if value > best:
                    best, how = value, ", ".join(f"{k} {wk:.0%}" for k, wk in w.items() if wk > 0)
                if a == b:
                    break
    return best, how


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--p95", type=float, help="p95 without hedging to cut from (s); default: the bound's own")
    ap.add_argument("--cut", type=float, default=0.30, help="p95 reduction asked for (0.30: 30 %% lower)")
    ap.add_argument("--extra-spend", type=float, default=0.10, help="extra spend allowed (0.10: 10 %%)")
    ap.add_argument("--scenario", choices=("seed", "stragglers"), default="seed")
    ap.add_argument("--horizon", type=float, default=200.0)
    args = ap.parse_args(argv)

    n = int(args.horizon / DT) + 1
    stragglers = {BEST: (STRAGGLER_RATE, STRAGGLER_FACTOR)} if args.scenario == "stragglers" else {}
    providers = [
        Provider(name, p50, p95, p, n, stragglers.get(name, (0.0, 1.0))) for name, (p50, p95, p) in SEED_FIGURES.items()
    ]
    best = envelope(providers, n)
    ideal_p95 = quantile(best, 0.95)
    p95 = args.p95 or ideal_p95
    target = (1 - args.cut) * p95
    i = int(target / DT)
    first = {pr.name: pr.stage(i, best) for pr in providers}
    success = {pr.name: pr.p for pr in providers}
    bound, how = best_mix(first, success, args.extra_spend)

    print(f"scenario {args.scenario}; providers (p50 s, p95 s, success): {SEED_FIGURES}; stragglers: {stragglers}")
    print(
        f"p95 without hedging: best possible {ideal_p95:.1f} s (any routing, retries and failover included); "
        f"cutting from {p95:.1f} s"
    )
    print(f"target: p95 <= {target:.1f} s ({args.cut:.0%} lower), i.e. P(T <= {target:.1f} s) >= 0.95")
    print("done by then without a hedge, by first provider: " + ", ".join(f"{k} {v:.3f}" for k, v in first.items()))
    print(f"with extra spend <= {args.extra_spend:.0%}: P(T <= {target:.1f} s) <= {bound:.3f} (best mix: {how})")
    print("verdict:", "reachable in principle" if bound >= 0.95 else "OUT OF REACH for any hedging policy")
    # Free cancellation: every request still running at time q gets a hedge chain of its own.
    g = best[i]
    latest = next((q * DT for q in range(i, -1, -1) if 1 - (1 - g) * (1 - best[i - q]) >= 0.95), None)
    if latest is None:
        print("even with free cancellation: out of reach (a hedge at t = 0 for every request is not enough)")
    else:
        running = 1 - best[int(latest / DT)]
        print(
            f"if cancelled generations were free: hedges would have to start by t = {latest:.1f} s "
            f"(when {running:.0%} of requests are still running), doubling provider load for them"
        )


if __name__ == "__main__":
    main()

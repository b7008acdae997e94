"""Ordering of candidates: preferences, policies (auto / priority / fixed), the score, the health split.

The ``auto`` score is the ratio rule for sequential attempts: trying offers in ascending order of
``expected cost of one attempt / P(success)`` minimises the expected total cost until the first success
when attempts are independent. With cost = ``w_latency * time / T_ref + w_price * money / C_ref``, and
failed attempts unbilled (money = P(success) x price):

    score = (w_latency * E[t] / T_ref + w_price * p * price / C_ref) / p ** w_success
    E[t]  = p * mean success latency + (1 - p) * mean failure latency

``p`` is the windowed success rate shrunk toward an optimistic prior; cold offers use priors and keep the
catalog order on ties. See docs/routing.md.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from imagegate.core.errors import InvalidRequest
from imagegate.core.types import ProviderPreferences
from imagegate.router.config import GroupMember, HealthConfig, ModelRouting, Weights
from imagegate.router.health import OfferHealth
from imagegate.router.state import StateSnapshot
from imagegate.router.types import Candidate


@dataclass(slots=True)
class OfferView:
    """One candidate with the numbers the policies sort on."""

    candidate: Candidate
    index: int  # catalog order
    p_success: float
    success_latency_s: float
    attempt_latency_s: float  # E[t] of one attempt
    price: float  # estimated micros
    health: OfferHealth
    score: float = 0.0

    @property
    def provider(self) -> str:
        return self.candidate.provider


def view(index: int, c: Candidate, h: OfferHealth, cfg: HealthConfig) -> OfferView:
    v = OfferView(c, index, 0.0, 0.0, 0.0, float(c.estimated_cost_micros), h)
    refresh(v, cfg)
    return v


def refresh(v: OfferView, cfg: HealthConfig) -> None:
    """Recompute P(success) and latencies from ``v.health`` (the score needs ``score_views`` afterwards)."""
    h, k = v.health, cfg.prior_weight
    expected = v.candidate.offer.expected  # the catalog's figures, when it has them, beat a generic prior
    prior_p = expected.success_rate if expected is not None else cfg.prior_success
    prior_t = expected.p50_ms / 1000.0 * cfg.expected_latency_scale if expected is not None else cfg.prior_latency_s
    total = h.successes + h.failures
    p = (h.successes + prior_p * k) / (total + k) if total + k > 0 else prior_p
    v.p_success = p = max(p, 1e-3)
    # Shrink the mean latency toward the prior a little so one lucky sample does not dominate.
    v.success_latency_s = success = (h.success_latency_ms / 1000.0 + prior_t) / (h.successes + 1.0)
    fail = h.failure_latency_ms / h.failures / 1000.0 if h.failures else success  # OfferHealth.mean_failure_s
    v.attempt_latency_s = p * success + (1 - p) * fail


def _references(views: list[OfferView]) -> tuple[float, float]:
    t_ref = min((v.attempt_latency_s for v in views), default=1.0) or 1.0
    prices = [v.price for v in views if v.price > 0]
    return t_ref, (min(prices) if prices else 1.0)


def _score(v: OfferView, w: Weights, t_ref: float, c_ref: float, delay_s: float = 0.0) -> float:
    cost = w.latency * (v.attempt_latency_s + delay_s) / t_ref + w.price * v.p_success * v.price / c_ref
    return cost / (v.p_success**w.success)


def score_views(views: list[OfferView], w: Weights) -> None:
    t_ref, c_ref = _references(views)
    for v in views:
        v.score = _score(v, w, t_ref, c_ref, v.candidate.queue_wait_s)


def delayed_score(v: OfferView, delay_s: float, views: list[OfferView], w: Weights) -> float:
    """``v``'s score if its attempt can only start after ``delay_s`` (a provider's Retry-After): waiting costs
    time like the attempt's own latency, so a short wait for the best offer can still beat a slower one."""
    return _score(v, w, *_references(views), delay_s) if delay_s > 0 else v.score


def by_score(views: list[OfferView]) -> list[OfferView]:
    return sorted(views, key=lambda v: (v.score, v.index))


def filter_candidates(
    candidates: Sequence[Candidate], prefs: ProviderPreferences | None, forced_provider: str | None
) -> list[Candidate]:
    """Apply the forced provider, ``only``, ``ignore`` and ``max_price``. May return an empty list."""
    out = list(candidates)
    if forced_provider:
        out = [c for c in out if c.provider == forced_provider]
    if prefs is None:
        return out
    if prefs.only is not None:
        allowed = set(prefs.only)
        out = [c for c in out if c.provider in allowed or c.offer.config_key in allowed]
    if prefs.ignore:
        banned = set(prefs.ignore)
        out = [c for c in out if c.provider not in banned and c.offer.config_key not in banned]
    if prefs.max_price is not None and out:
        limit = round(prefs.max_price * 1_000_000)
        within = [c for c in out if c.estimated_cost_micros <= limit]
        if not within:
            cheapest = min(out, key=lambda c: c.estimated_cost_micros)
            if cheapest.offer.price_unknown:  # every candidate lacks a published price (docs/pricing.md)
                raise InvalidRequest(
                    f"No provider can serve this request within max_price ${prefs.max_price:g}: no offer of this "
                    "model has a published price.",
                    param="provider.max_price",
                )
            raise InvalidRequest(
                f"No provider can serve this request within max_price ${prefs.max_price:g}: the cheapest estimate "
                f"is ${cheapest.estimated_cost_micros / 1_000_000:.6g} ({cheapest.provider}).",
                param="provider.max_price",
            )
        out = within
    return out


def weighted_shuffle(members: Sequence[tuple[OfferView, float]], rng: random.Random) -> list[OfferView]:
    """Weighted random order without replacement (Efraimidis-Spirakis keys u ** (1 / w))."""
    keyed = [(rng.random() ** (1.0 / w), -v.index, v) for v, w in members]
    keyed.sort(key=lambda t: (t[0], t[1]), reverse=True)
    return [v for _, _, v in keyed]


def policy_order(views: list[OfferView], routing: ModelRouting, rng: random.Random) -> list[OfferView]:
    if routing.policy == "priority":
        return _priority(views, routing.groups, rng)
    if routing.policy == "fixed":
        return _named_first(views, routing.order)
    return by_score(views)


def _priority(views: list[OfferView], groups: Sequence[Sequence[GroupMember]], rng: random.Random) -> list[OfferView]:
    by_provider = {v.provider: v for v in views}
    out: list[OfferView] = []
    seen: set[str] = set()
    for group in groups:
        members = [(by_provider[m.provider], m.weight) for m in group if m.provider in by_provider]
        members = [(v, w) for v, w in members if v.provider not in seen]
        seen.update(v.provider for v, _ in members)
        out.extend(weighted_shuffle(members, rng))
    return out + by_score([v for v in views if v.provider not in seen])  # unlisted offers: a last group


def _rank(v: OfferView, rank: dict[str, int]) -> int | None:
    r = rank.get(v.provider)
    return r if r is not None else rank.get(v.candidate.offer.config_key)


def promote(ordered: list[OfferView], names: Sequence[str]) -> list[OfferView]:
    """The named offers first, in the given order; the rest keep their order."""
    rank = {n: i for i, n in enumerate(names)}
    named = sorted((v for v in ordered if _rank(v, rank) is not None), key=lambda v: _rank(v, rank) or 0)
    return named + [v for v in ordered if _rank(v, rank) is None]


def _named_first(views: list[OfferView], names: Sequence[str]) -> list[OfferView]:
    return promote(by_score(views), names)


def sort_by(views: list[OfferView], sort: str) -> list[OfferView]:
    if sort == "price":
        return sorted(views, key=lambda v: (v.price, v.score, v.index))
    if sort == "latency":
        return sorted(views, key=lambda v: (v.success_latency_s, v.score, v.index))
    return sorted(views, key=lambda v: (-v.p_success, v.score, v.index))  # "success"


def is_last_resort(v: OfferView, now_wall: float, wait_aware: bool) -> bool:
    """Open offers are the last resort; so are paused ones, unless the order prices their wait (``auto``)."""
    return v.health.breaker == "open" or (not wait_aware and v.health.paused_until > now_wall)


def health_split(
    views: list[OfferView], now_wall: float, weights: Weights | None = None
) -> tuple[list[OfferView], list[OfferView]]:
    """Healthy (closed or half-open, not paused) first; open or paused offers are the last resort. With
    ``weights`` (the ``auto`` order) a paused offer stays among the healthy ones, ranked by its score with the
    wait added: a provider's 5 s Retry-After need not send every request to a slower provider meanwhile."""
    healthy: list[OfferView] = []
    last: list[OfferView] = []
    for v in views:
        (last if is_last_resort(v, now_wall, weights is not None) else healthy).append(v)
    if weights is not None and any(v.health.paused_until > now_wall for v in healthy):
        healthy.sort(key=lambda v: (delayed_score(v, v.health.paused_until - now_wall, views, weights), v.index))
    return healthy, last


def order_views(
    candidates: Sequence[Candidate],
    snapshot: StateSnapshot,
    *,
    routing: ModelRouting,
    weights: Weights,
    health_cfg: HealthConfig,
    prefs: ProviderPreferences | None,
    forced_provider: str | None,
    now_wall: float,
    rng: random.Random,
    wait_aware: bool = False,
) -> list[OfferView]:
    """The offers in the order to try them. ``wait_aware`` (``auto`` without an explicit order or sort):
    paused offers are ranked by their score with the wait added instead of being sent to the end."""
    kept = filter_candidates(candidates, prefs, forced_provider)
    if len(kept) == len(candidates):  # nothing filtered out (filtering keeps the order): index = position
        views = [view(i, c, snapshot.get(c.provider), health_cfg) for i, c in enumerate(kept)]
    else:
        index = {id(c): i for i, c in enumerate(candidates)}
        views = [view(index[id(c)], c, snapshot.get(c.provider), health_cfg) for c in kept]
    score_views(views, weights)
    ordered = sort_by(views, prefs.sort) if prefs is not None and prefs.sort else policy_order(views, routing, rng)
    if prefs is not None and prefs.order:
        ordered = promote(ordered, prefs.order)
    healthy, last_resort = health_split(ordered, now_wall, weights if wait_aware else None)
    ordered = healthy + last_resort
    if prefs is not None and not prefs.allow_fallbacks:
        ordered = ordered[:1]
    return ordered

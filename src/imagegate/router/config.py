"""``RouterConfig``: the ``routing`` section of the settings, validated once, with errors that name the field.

Every section is a frozen dataclass whose fields are the config keys (see docs/routing.md). Unknown keys,
wrong types and out-of-range values raise ``RouterConfigError`` with a dotted path such as
``routing.breaker.cooldown_s``.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Literal, get_type_hints

POLICIES = ("auto", "priority", "fixed")
Policy = Literal["auto", "priority", "fixed"]


class RouterConfigError(ValueError):
    pass


def _rng(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False) -> dict[str, Any]:
    return {"lo": lo, "hi": hi, "lo_open": lo_open}


@dataclass(frozen=True, slots=True)
class Weights:
    """Score weights: ``success`` is the exponent on P(success); ``latency`` and ``price`` weigh the two costs."""

    success: float = field(default=1.0, metadata=_rng(0, 10))
    latency: float = field(default=1.0, metadata=_rng(0))
    price: float = field(default=1.0, metadata=_rng(0))


@dataclass(frozen=True, slots=True)
class HealthConfig:
    window_s: float = field(default=300.0, metadata=_rng(0, lo_open=True))
    bucket_s: float = field(default=30.0, metadata=_rng(0, lo_open=True))
    prior_success: float = field(default=0.95, metadata=_rng(0, 1, lo_open=True))
    prior_weight: float = field(default=5.0, metadata=_rng(0))  # pseudo-observations behind the prior
    prior_latency_s: float = field(default=30.0, metadata=_rng(0, lo_open=True))
    # offers with catalog ``expected`` figures use them as their prior; their latency is multiplied by this
    expected_latency_scale: float = field(default=1.0, metadata=_rng(0, lo_open=True))
    min_samples: int = field(default=20, metadata=_rng(1))  # before observed quantiles are trusted


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    enabled: bool = True
    consecutive_failures: int = field(default=5, metadata=_rng(1))
    failure_rate: float = field(default=0.5, metadata=_rng(0, 1, lo_open=True))
    min_requests: int = field(default=20, metadata=_rng(1))
    cooldown_s: float = field(default=30.0, metadata=_rng(0, lo_open=True))
    half_open_probes: int = field(default=1, metadata=_rng(1))


@dataclass(frozen=True, slots=True)
class RetryConfig:
    max_attempts: int = field(default=8, metadata=_rng(1))  # per request, failovers and retries included
    max_attempts_per_offer: int = field(default=2, metadata=_rng(1))
    backoff_base_s: float = field(default=0.5, metadata=_rng(0))
    backoff_cap_s: float = field(default=8.0, metadata=_rng(0))
    retry_penalty: float = field(default=1.0, metadata=_rng(0, lo_open=True))  # x score of a retry (auto policy)
    max_retry_after_s: float = field(default=300.0, metadata=_rng(0))  # cap on a provider's pause
    # a retry-after pauses the offer for everyone once this many failures in a row (this one included) were seen
    pause_after_consecutive: int = field(default=2, metadata=_rng(1))
    rate_limited_as_429: bool = True  # every attempt rate limited -> 429 with Retry-After, not 502


@dataclass(frozen=True, slots=True)
class RetryBudgetConfig:
    ratio: float = field(default=0.2, metadata=_rng(0))
    min_per_s: float = field(default=1.0, metadata=_rng(0))
    window_s: float = field(default=60.0, metadata=_rng(0, lo_open=True))
    bucket_s: float = field(default=5.0, metadata=_rng(0, lo_open=True))


@dataclass(frozen=True, slots=True)
class AttemptTimeoutConfig:
    multiplier: float = field(default=2.0, metadata=_rng(0, lo_open=True))  # x the offer's observed p95
    floor_s: float = field(default=10.0, metadata=_rng(0))
    cold_s: float | None = field(default=None, metadata=_rng(0, lo_open=True))  # None: from the catalog's prior
    cold_multiplier: float = field(default=2.0, metadata=_rng(0, lo_open=True))  # x the catalog's expected p95
    failover_reserve: float = field(default=0.25, metadata=_rng(0, 0.9))  # share of the time left kept for failover


@dataclass(frozen=True, slots=True)
class HedgingConfig:
    enabled: bool = False
    quantile: float = field(default=0.9, metadata=_rng(0, 1, lo_open=True))
    floor_s: float = field(default=1.0, metadata=_rng(0))
    cold_delay_s: float | None = field(default=None, metadata=_rng(0, lo_open=True))  # None: no hedge when cold
    same_offer: bool = True  # auto policy: the hedge may be a second call to the same offer when it scores best
    max_share: float = field(default=0.1, metadata=_rng(0, 1))
    min_per_s: float = field(default=0.0, metadata=_rng(0))


@dataclass(frozen=True, slots=True)
class GroupMember:
    provider: str
    weight: float = field(default=1.0, metadata=_rng(0, lo_open=True))


@dataclass(frozen=True, slots=True)
class ModelRouting:
    policy: Policy = "auto"
    groups: tuple[tuple[GroupMember, ...], ...] = ()
    order: tuple[str, ...] = ()
    weights: Weights | None = None
    hedging: HedgingConfig | None = None


@dataclass(frozen=True, slots=True)
class ModelPolicy:
    """Everything the router reads per model, resolved once (``RouterConfig.policy_for``)."""

    routing: ModelRouting
    weights: Weights
    hedging: HedgingConfig


@dataclass(frozen=True, slots=True)
class RouterConfig:
    policy: Policy = "auto"
    weights: Weights = Weights()
    health: HealthConfig = HealthConfig()
    breaker: BreakerConfig = BreakerConfig()
    retry: RetryConfig = RetryConfig()
    retry_budget: RetryBudgetConfig = RetryBudgetConfig()
    attempt_timeout: AttemptTimeoutConfig = AttemptTimeoutConfig()
    hedging: HedgingConfig = HedgingConfig()
    models: dict[str, ModelRouting] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> RouterConfig:
        data = dict(data or {})
        models_raw = data.pop("models", None) or {}
        base = _build(cls, data, "routing", skip={"models"})
        if not isinstance(models_raw, dict):
            raise RouterConfigError("routing.models: must be a mapping of model id -> routing")
        models = {str(k): _model(v, f"routing.models.{k}", base) for k, v in models_raw.items()}
        return RouterConfig(**{**{f.name: getattr(base, f.name) for f in fields(base)}, "models": models})

    def for_model(self, model_id: str) -> ModelRouting:
        return self.models.get(model_id) or ModelRouting(policy=self.policy)

    def policy_for(self, model_id: str) -> ModelPolicy:
        """``for_model``, ``weights_for`` and ``hedging_for`` together (the router keeps one per model)."""
        return ModelPolicy(self.for_model(model_id), self.weights_for(model_id), self.hedging_for(model_id))

    def weights_for(self, model_id: str) -> Weights:
        m = self.models.get(model_id)
        return (m.weights if m and m.weights else None) or self.weights

    def hedging_for(self, model_id: str) -> HedgingConfig:
        m = self.models.get(model_id)
        return (m.hedging if m and m.hedging else None) or self.hedging


def _model(raw: Any, path: str, base: RouterConfig) -> ModelRouting:
    if not isinstance(raw, dict):
        raise RouterConfigError(f"{path}: must be a mapping")
    raw = dict(raw)
    policy = raw.pop("policy", None) or ("priority" if "groups" in raw else "fixed" if "order" in raw else base.policy)
    if policy not in POLICIES:
        raise RouterConfigError(f"{path}.policy: must be one of {', '.join(POLICIES)} (got {policy!r})")
    groups_raw = raw.pop("groups", None) or []
    order_raw = raw.pop("order", None) or []
    weights = _build(Weights, raw.pop("weights"), f"{path}.weights") if "weights" in raw else None
    hedging = _build(HedgingConfig, raw.pop("hedging"), f"{path}.hedging") if "hedging" in raw else None
    if raw:
        raise RouterConfigError(f"{path}: unknown key(s) {', '.join(sorted(raw))}")
    if not isinstance(groups_raw, list) or not all(isinstance(g, list) and g for g in groups_raw):
        raise RouterConfigError(f"{path}.groups: must be a list of non-empty lists")
    groups = tuple(
        tuple(_member(m, f"{path}.groups[{i}][{j}]") for j, m in enumerate(g)) for i, g in enumerate(groups_raw)
    )
    if not isinstance(order_raw, list) or not all(isinstance(p, str) for p in order_raw):
        raise RouterConfigError(f"{path}.order: must be a list of provider names")
    if policy == "priority" and not groups:
        raise RouterConfigError(f"{path}.groups: the 'priority' policy needs at least one group")
    if policy == "fixed" and not order_raw:
        raise RouterConfigError(f"{path}.order: the 'fixed' policy needs a provider order")
    return ModelRouting(policy=policy, groups=groups, order=tuple(order_raw), weights=weights, hedging=hedging)


def _member(raw: Any, path: str) -> GroupMember:
    if isinstance(raw, str):
        return GroupMember(provider=raw)
    if not isinstance(raw, dict) or not isinstance(raw.get("provider"), str):
        raise RouterConfigError(f"{path}: must be a provider name or {{provider, weight}}")
    return _build(GroupMember, raw, path)


def _build(cls: Any, raw: Any, path: str, skip: set[str] | None = None) -> Any:
    """Build a flat config dataclass from a mapping, checking keys, types and ranges."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise RouterConfigError(f"{path}: must be a mapping")
    hints = get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    unknown = set(raw) - set(known) - (skip or set())
    if unknown:
        raise RouterConfigError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
    kwargs: dict[str, Any] = {}
    for name, value in raw.items():
        f = known[name]
        kwargs[name] = _coerce(value, hints[name], f"{path}.{name}", f.metadata)
    for name, f in known.items():
        if name not in kwargs and f.default is MISSING and f.default_factory is MISSING:
            raise RouterConfigError(f"{path}.{name}: required")
    return cls(**kwargs)


_SECTIONS = {
    Weights: "weights",
    HealthConfig: "health",
    BreakerConfig: "breaker",
    RetryConfig: "retry",
    RetryBudgetConfig: "retry_budget",
    AttemptTimeoutConfig: "attempt_timeout",
    HedgingConfig: "hedging",
}


def _coerce(value: Any, hint: Any, path: str, meta: Any) -> Any:
    if hint in _SECTIONS:
        return _build(hint, value, path)
    optional = str(hint).endswith("| None") or "Optional" in str(hint)
    if value is None:
        if optional:
            return None
        raise RouterConfigError(f"{path}: must not be null")
    text = str(hint)
    if hint is bool:
        if not isinstance(value, bool):
            raise RouterConfigError(f"{path}: must be true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise RouterConfigError(f"{path}: must be an integer")
        _check_range(float(value), path, meta)
        return value
    if hint is float or text.startswith("float"):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise RouterConfigError(f"{path}: must be a number")
        _check_range(float(value), path, meta)
        return float(value)
    if hint is str:
        if not isinstance(value, str) or not value:
            raise RouterConfigError(f"{path}: must be a non-empty string")
        return value
    if "Literal" in text or hint == Policy:
        if value not in POLICIES:
            raise RouterConfigError(f"{path}: must be one of {', '.join(POLICIES)} (got {value!r})")
        return value
    raise RouterConfigError(f"{path}: unsupported setting")


def _check_range(v: float, path: str, meta: Any) -> None:
    lo, hi, lo_open = meta.get("lo"), meta.get("hi"), meta.get("lo_open", False)
    if lo is not None and (v <= lo if lo_open else v < lo):
        raise RouterConfigError(f"{path}: must be {'>' if lo_open else '>='} {lo} (got {v})")
    if hi is not None and v > hi:
        raise RouterConfigError(f"{path}: must be <= {hi} (got {v})")

"""``RouterConfig``: the ``routing`` section of the settings, validated once by pydantic, with errors that name the
key and the expected type or range.

Every section is a frozen pydantic model whose fields are the config keys (see docs/routing.md). Unknown keys,
wrong types (strict: ``"yes"`` is not a boolean, ``2.5`` not an integer) and out-of-range values raise
``RouterConfigError`` whose message starts with the dotted path of the key, e.g.
``routing.breaker.cooldown_s: Input should be greater than 0 (got 0)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

POLICIES = ("auto", "priority", "fixed")
Policy = Literal["auto", "priority", "fixed"]


class RouterConfigError(ValueError):
    pass


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class Weights(_Section):
    """Score weights: ``success`` is the exponent on P(success); ``latency`` and ``price`` weigh the two costs."""

    success: float = Field(default=1.0, ge=0, le=10)
    latency: float = Field(default=1.0, ge=0)
    price: float = Field(default=1.0, ge=0)


class HealthConfig(_Section):
    window_s: float = Field(default=300.0, gt=0)
    bucket_s: float = Field(default=30.0, gt=0)
    prior_success: float = Field(default=0.95, gt=0, le=1)
    prior_weight: float = Field(default=5.0, ge=0)  # pseudo-observations behind the prior
    prior_latency_s: float = Field(default=30.0, gt=0)
    # offers with catalog ``expected`` figures use them as their prior; their latency is multiplied by this
    expected_latency_scale: float = Field(default=1.0, gt=0)
    min_samples: int = Field(default=20, ge=1)  # before observed quantiles are trusted


class BreakerConfig(_Section):
    enabled: bool = True
    consecutive_failures: int = Field(default=5, ge=1)
    failure_rate: float = Field(default=0.5, gt=0, le=1)
    min_requests: int = Field(default=20, ge=1)
    cooldown_s: float = Field(default=30.0, gt=0)
    half_open_probes: int = Field(default=1, ge=1)


class RetryConfig(_Section):
    max_attempts: int = Field(default=8, ge=1)  # per request, failovers and retries included
    max_attempts_per_offer: int = Field(default=2, ge=1)
    backoff_base_s: float = Field(default=0.5, ge=0)
    backoff_cap_s: float = Field(default=8.0, ge=0)
    retry_penalty: float = Field(default=1.0, gt=0)  # x score of a retry (auto policy)
    max_retry_after_s: float = Field(default=300.0, ge=0)  # cap on a provider's pause
    # a retry-after pauses the offer for everyone once this many failures in a row (this one included) were seen
    pause_after_consecutive: int = Field(default=2, ge=1)
    rate_limited_as_429: bool = True  # every attempt rate limited -> 429 with Retry-After, not 502


class RetryBudgetConfig(_Section):
    ratio: float = Field(default=0.2, ge=0)
    min_per_s: float = Field(default=1.0, ge=0)
    window_s: float = Field(default=60.0, gt=0)
    bucket_s: float = Field(default=5.0, gt=0)


class AttemptTimeoutConfig(_Section):
    multiplier: float = Field(default=2.0, gt=0)  # x the offer's observed p95
    floor_s: float = Field(default=10.0, ge=0)
    cold_s: float | None = Field(default=None, gt=0)  # None: from the catalog's prior (below), else the time left
    cold_multiplier: float = Field(default=2.0, gt=0)  # x the catalog's expected p95 for an offer not yet measured
    failover_reserve: float = Field(default=0.25, ge=0, le=0.9)  # share of the time left kept for an untried offer


class HedgingConfig(_Section):
    enabled: bool = False
    quantile: float = Field(default=0.9, gt=0, le=1)
    floor_s: float = Field(default=1.0, ge=0)
    cold_delay_s: float | None = Field(default=None, gt=0)  # None: no hedge when cold
    same_offer: bool = True  # auto policy: the hedge may be a second call to the same offer when it scores best
    max_share: float = Field(default=0.1, ge=0, le=1)
    min_per_s: float = Field(default=0.0, ge=0)


def _member(raw: Any) -> Any:
    return {"provider": raw} if isinstance(raw, str) else raw


class GroupMember(_Section):
    provider: Annotated[str, Field(min_length=1)]
    weight: float = Field(default=1.0, gt=0)


Group = Annotated[tuple[Annotated[GroupMember, BeforeValidator(_member)], ...], Field(min_length=1)]


class ModelRouting(_Section):
    policy: Policy = "auto"
    groups: tuple[Group, ...] = ()
    order: tuple[Annotated[str, Field(min_length=1)], ...] = ()
    weights: Weights | None = None
    hedging: HedgingConfig | None = None

    @field_validator("groups", "order", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:  # YAML gives lists; strict mode wants the tuple the field is
        if isinstance(value, list):
            return tuple(tuple(v) if isinstance(v, list) else v for v in value)
        return value


@dataclass(frozen=True, slots=True)
class ModelPolicy:
    """Everything the router reads per model, resolved once (``RouterConfig.policy_for``)."""

    routing: ModelRouting
    weights: Weights
    hedging: HedgingConfig


class RouterConfig(_Section):
    policy: Policy = "auto"
    weights: Weights = Weights()
    health: HealthConfig = HealthConfig()
    breaker: BreakerConfig = BreakerConfig()
    retry: RetryConfig = RetryConfig()
    retry_budget: RetryBudgetConfig = RetryBudgetConfig()
    attempt_timeout: AttemptTimeoutConfig = AttemptTimeoutConfig()
    hedging: HedgingConfig = HedgingConfig()
    models: dict[str, ModelRouting] = Field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> RouterConfig:
        data = dict(data or {})
        models = data.get("models")
        if isinstance(models, dict):  # a model's policy defaults from what it sets
            base = data.get("policy", "auto")
            data["models"] = {str(k): _with_policy(v, base) for k, v in models.items()}
        try:
            cfg = cls.model_validate(data)
        except ValidationError as exc:
            raise RouterConfigError(_describe(exc)) from None
        for model_id, m in cfg.models.items():
            path = f"routing.models.{model_id}"
            if m.policy == "priority" and not m.groups:
                raise RouterConfigError(f"{path}.groups: the 'priority' policy needs at least one group")
            if m.policy == "fixed" and not m.order:
                raise RouterConfigError(f"{path}.order: the 'fixed' policy needs a provider order")
        return cfg

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


def _with_policy(raw: Any, base: Any) -> Any:
    if not isinstance(raw, dict) or raw.get("policy"):
        return raw
    return {**raw, "policy": "priority" if "groups" in raw else "fixed" if "order" in raw else base}


def _path(loc: tuple[int | str, ...]) -> str:
    out = "routing"
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-before[_member(), GroupMember]", "GroupMember"):
            continue  # pydantic's names for the validator and model steps, not keys
        else:
            out += f".{part}"
    return out


def _describe(exc: ValidationError) -> str:
    """The first problem, named by its dotted path: unknown keys together, else pydantic's message and the value."""
    errors = exc.errors()
    unknown: dict[str, list[str]] = {}
    for e in errors:
        if e["type"] == "extra_forbidden":
            unknown.setdefault(_path(e["loc"][:-1]), []).append(str(e["loc"][-1]))
    if unknown:
        path, keys = next(iter(unknown.items()))
        return f"{path}: unknown key(s) {', '.join(sorted(keys))}"
    e = errors[0]
    msg = e["msg"]
    if e["type"] in ("model_type", "model_attributes_type", "dict_type"):
        msg = "must be a mapping"
    return f"{_path(e['loc'])}: {msg} (got {e['input']!r})"

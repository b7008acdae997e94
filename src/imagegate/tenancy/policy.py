"""An API key's policy, and the key body of the admin API and the CLI (validated with pydantic).

``KeyBody`` is exactly the issue's body: ``name``, ``expires_at``, ``models``, ``routing``, ``budget``
(``usd``, ``period``, ``models``), ``rate_limits`` (``requests_per_minute``, ``images_per_minute``), ``metadata``.
Every bad field is a 400 that names it (``budget.usd``); unknown fields are refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from imagegate.api.parsing import parse_preferences
from imagegate.catalog.loader import Catalog
from imagegate.core.errors import GatewayError, InvalidRequest
from imagegate.core.types import ProviderPreferences

MICROS = 1_000_000
Period = Literal["day", "month", "total"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


class BudgetBody(_Strict):
    usd: float = Field(ge=0, allow_inf_nan=False, le=1e12)
    period: Period = "month"
    models: list[str] | None = None


class RateLimitsBody(_Strict):
    requests_per_minute: int | None = Field(default=None, gt=0, le=10_000_000)
    images_per_minute: int | None = Field(default=None, gt=0, le=10_000_000)


class KeyBody(_Strict):
    """``POST /v1/admin/keys``: a new key. Also the fields of ``PATCH`` (there every field is optional)."""

    name: str = Field(default="default", min_length=1, max_length=200)
    expires_at: datetime | None = None
    models: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    routing: dict[str, Any] | None = None
    budget: BudgetBody | None = None
    rate_limits: RateLimitsBody | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def _field_name(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def parse_key_body(data: Any, catalog: Catalog, *, partial: bool = False) -> dict[str, Any]:
    """Validate a key body into the stored fields (only those given, when ``partial``). Raises a 400 naming the
    first bad field."""
    if not isinstance(data, dict):
        raise InvalidRequest("The key body must be a JSON object.")
    try:
        body = KeyBody.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = _field_name(first["loc"]) or "body"
        reason = "unknown field" if first["type"] == "extra_forbidden" else first["msg"]
        raise InvalidRequest(f"Invalid key field '{name}': {reason}.", param=name) from None
    given = set(data) if partial else set(KeyBody.model_fields)
    fields: dict[str, Any] = {}
    if "name" in given:
        fields["name"] = body.name
    if "expires_at" in given:
        fields["expires_at"] = body.expires_at
    if "models" in given:
        fields["models"] = canonical_models(body.models, catalog, "models")
    if "routing" in given:
        if body.routing is not None:
            try:
                parse_preferences(body.routing)
            except GatewayError as exc:
                raise InvalidRequest(f"Invalid key field 'routing': {exc.message}", param="routing") from None
        fields["routing"] = body.routing
    if "budget" in given:
        budget = body.budget
        fields["budget_micros"] = round(budget.usd * MICROS) if budget else None
        fields["budget_period"] = budget.period if budget else None
        fields["budget_models"] = (
            canonical_models(budget.models, catalog, "budget.models") if budget and budget.models else None
        )
    if "rate_limits" in given:
        limits = body.rate_limits
        fields["requests_per_minute"] = limits.requests_per_minute if limits else None
        fields["images_per_minute"] = limits.images_per_minute if limits else None
    if "metadata" in given:
        fields["key_metadata"] = body.metadata
    return fields


def canonical_models(names: list[str], catalog: Catalog, param: str) -> list[str]:
    """Ids or aliases -> catalog ids (``*`` stays); a name the catalog does not know is a 400 naming ``param``."""
    out: list[str] = []
    for name in names:
        if name == "*":
            out.append("*")
            continue
        model = catalog.get(name)
        if model is None:
            raise InvalidRequest(f"Invalid key field '{param}': model '{name}' does not exist.", param=param)
        out.append(model.id)
    return list(dict.fromkeys(out))


@dataclass(frozen=True, slots=True)
class KeyPolicy:
    """A live database key, as the request path sees it (immutable, cached per replica)."""

    key_id: str
    name: str
    expires_at: datetime | None = None
    models: tuple[str, ...] = ("*",)
    routing: dict[str, Any] | None = None
    budget_micros: int | None = None
    budget_period: Period | None = None
    budget_models: tuple[str, ...] | None = None
    requests_per_minute: int | None = None
    images_per_minute: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def allows(self, model_id: str) -> bool:
        return "*" in self.models or model_id in self.models

    def budget_covers(self, model_id: str) -> bool:
        """Whether requests for ``model_id`` count against the budget."""
        return self.budget_micros is not None and (not self.budget_models or model_id in self.budget_models)

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def preferences(self) -> ProviderPreferences | None:
        return parse_preferences(self.routing) if self.routing else None


MASTER = "master"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the master key, a static key from settings (no policy) or a database key (its policy)."""

    key_id: str
    policy: KeyPolicy | None = None

    @property
    def is_master(self) -> bool:
        return self.key_id == MASTER


def model_not_allowed(policy: KeyPolicy, model_id: str) -> GatewayError:
    err = GatewayError(
        f"This API key ({policy.key_id}) may not use model '{model_id}'.",
        status=403,
        code="MODEL_NOT_ALLOWED",
        param="model",
    )
    err.type = "permission_error"
    return err


__all__ = [
    "KeyBody",
    "KeyPolicy",
    "MASTER",
    "Principal",
    "MICROS",
    "canonical_models",
    "model_not_allowed",
    "parse_key_body",
]

"""RouterConfig.from_dict: defaults, the documented example, errors that name the field."""

from __future__ import annotations

import pytest

from imagegate.router import RouterConfig, RouterConfigError

EXAMPLE = {
    "policy": "auto",
    "weights": {"success": 1.0, "latency": 1.0, "price": 0.5},
    "hedging": {"enabled": False, "quantile": 0.9, "max_share": 0.1},
    "retry_budget": {"ratio": 0.2, "min_per_s": 1},
    "breaker": {"consecutive_failures": 5, "cooldown_s": 30},
    "models": {
        "gemini-3-pro-image-preview": {
            "policy": "priority",
            "groups": [[{"provider": "gemini", "weight": 1}], [{"provider": "vertex"}, {"provider": "replicate"}]],
        },
        "gpt-image-1": {"order": ["openai"], "hedging": {"enabled": True}},
    },
}


def test_defaults() -> None:
    cfg = RouterConfig.from_dict({})
    assert cfg == RouterConfig.from_dict(None)
    assert cfg.policy == "auto" and cfg.retry_budget.ratio == 0.2 and not cfg.hedging.enabled
    assert cfg.for_model("anything").policy == "auto"


def test_the_documented_example() -> None:
    cfg = RouterConfig.from_dict(EXAMPLE)
    assert cfg.weights.price == 0.5 and cfg.retry_budget.min_per_s == 1.0
    m = cfg.for_model("gemini-3-pro-image-preview")
    assert m.policy == "priority"
    assert [[(g.provider, g.weight) for g in grp] for grp in m.groups] == [
        [("gemini", 1.0)], [("vertex", 1.0), ("replicate", 1.0)],
    ]  # fmt: skip
    gpt = cfg.for_model("gpt-image-1")
    assert gpt.policy == "fixed" and gpt.order == ("openai",)  # "order" alone implies the fixed policy
    assert cfg.hedging_for("gpt-image-1").enabled and not cfg.hedging_for("gemini-3-pro-image-preview").enabled
    assert cfg.weights_for("gpt-image-1") is cfg.weights


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"polcy": "auto"}, "routing: unknown key(s) polcy"),
        ({"policy": "fastest"}, "routing.policy"),
        ({"weights": {"price": -1}}, "routing.weights.price"),
        ({"weights": {"speed": 1}}, "routing.weights: unknown key(s) speed"),
        ({"breaker": {"cooldown_s": 0}}, "routing.breaker.cooldown_s"),
        ({"breaker": {"consecutive_failures": 2.5}}, "routing.breaker.consecutive_failures"),
        ({"breaker": {"enabled": "yes"}}, "routing.breaker.enabled"),
        ({"hedging": {"quantile": 1.5}}, "routing.hedging.quantile"),
        ({"retry_budget": "lots"}, "routing.retry_budget"),
        ({"models": {"m": {"policy": "priority"}}}, "routing.models.m.groups"),
        ({"models": {"m": {"groups": [["gemini"], []]}}}, "routing.models.m.groups"),
        ({"models": {"m": {"groups": [[{"provider": "g", "weight": 0}]]}}}, "routing.models.m.groups[0][0].weight"),
        ({"models": {"m": {"policy": "fixed"}}}, "routing.models.m.order"),
        ({"models": {"m": {"order": ["a"], "colour": 1}}}, "routing.models.m: unknown key(s) colour"),
        ({"models": {"m": {"hedging": {"max_share": 2}}}}, "routing.models.m.hedging.max_share"),
    ],
)
def test_errors_name_the_field(data: dict, field: str) -> None:
    with pytest.raises(RouterConfigError) as err:
        RouterConfig.from_dict(data)
    assert str(err.value).startswith(field)


def test_group_members_may_be_plain_names() -> None:
    cfg = RouterConfig.from_dict({"models": {"m": {"groups": [["gemini", "vertex"]]}}})
    assert [g.provider for g in cfg.for_model("m").groups[0]] == ["gemini", "vertex"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"breaker": {"enabled": "yes"}}, "routing.breaker.enabled: Input should be a valid boolean (got 'yes')"),
        ({"retry": {"max_attempts": 2.5}}, "routing.retry.max_attempts: Input should be a valid integer"),
        ({"breaker": {"cooldown_s": 0}}, "routing.breaker.cooldown_s: Input should be greater than 0 (got 0)"),
        ({"attempt_timeout": {"failover_reserve": 1}}, "routing.attempt_timeout.failover_reserve: Input should be"),
        ({"health": []}, "routing.health: must be a mapping"),
    ],
)
def test_errors_name_the_expected_type_or_range(data: dict, message: str) -> None:
    """One validation mechanism (pydantic, issue 9): the key and what it expects."""
    with pytest.raises(RouterConfigError) as err:
        RouterConfig.from_dict(data)
    assert str(err.value).startswith(message)

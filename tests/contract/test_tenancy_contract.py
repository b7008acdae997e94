"""Contract: keys with policies through the admin API, budgets (402), allowed models (403), rate limits (429 and the
x-ratelimit headers the openai SDK honours), balance and spend, against a real ``imagegate serve`` in front of the
Gemini fake (real prices), driven by the openai SDK."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import openai
import pytest
from openai import OpenAI

from imagegate.testing.fleet import Fleet, ThreadedFleet
from tests.helpers_server import ServerProcess

MASTER = "ig-tenancy-master-key-0123456789abcdef"
MODEL = "gemini-3-pro-image-preview"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    fleet = ThreadedFleet(Fleet(workdir=tmp_path_factory.mktemp("fleet"), providers=("gemini",)))
    fleet.start()
    env = {**fleet.fleet.env(), "IMAGEGATE_PLACEHOLDER": "off", "IMAGEGATE_MASTER_KEY": MASTER}
    proc = ServerProcess(tmp_path_factory.mktemp("tenancy") / "data", env=env)
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()
        fleet.stop()


def admin(gateway: ServerProcess) -> httpx.Client:
    return httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {MASTER}"}, timeout=30)


def make_key(gateway: ServerProcess, **body) -> dict:  # type: ignore[no-untyped-def]
    with admin(gateway) as c:
        r = c.post("/v1/admin/keys", json={"name": "t", **body})
    assert r.status_code == 201, r.text
    return r.json()


def sdk(gateway: ServerProcess, key: str, retries: int = 0) -> OpenAI:
    return OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=retries, timeout=60)


def generate(client: OpenAI, n: int = 1, model: str = MODEL):  # type: ignore[no-untyped-def]
    return client.images.with_raw_response.generate(
        model=model, prompt="a lighthouse", size="1024x1024", n=n, response_format="b64_json"
    )


def test_key_lifecycle_through_the_admin_api(gateway: ServerProcess) -> None:
    body = {
        "name": "team-a",
        "expires_at": "2099-01-01T00:00:00Z",
        "models": ["nano-banana-pro"],
        "routing": {"sort": "price"},
        "budget": {"usd": 50.0, "period": "month"},
        "rate_limits": {"requests_per_minute": 60, "images_per_minute": 120},
        "metadata": {"team": "a"},
    }
    made = make_key(gateway, **body)
    secret = made["key"]
    assert secret.startswith("ig-") and made["id"].startswith("key_")
    assert made["models"] == [MODEL]  # the alias, stored as the catalog id
    assert made["budget"] == {"usd": 50.0, "period": "month"}
    assert made["rate_limits"] == {"requests_per_minute": 60, "images_per_minute": 120}
    assert made["metadata"] == {"team": "a"} and made["routing"] == {"sort": "price"}
    assert made["expires_at"] == "2099-01-01T00:00:00Z"
    # the new key works at once, without a restart
    assert sdk(gateway, secret).models.list().data
    with admin(gateway) as c:
        listed = c.get("/v1/admin/keys").json()["data"]
        assert made["id"] in [k["id"] for k in listed]
        assert secret not in c.get("/v1/admin/keys").text
        shown = c.get(f"/v1/admin/keys/{made['id']}").json()
        assert "key" not in shown and shown["name"] == "team-a"
        patched = c.patch(f"/v1/admin/keys/{made['id']}", json={"name": "team-b", "rate_limits": None})
        assert patched.status_code == 200
        assert patched.json()["name"] == "team-b" and patched.json()["rate_limits"] is None
        assert patched.json()["budget"] == {"usd": 50.0, "period": "month"}  # untouched
        assert c.get("/v1/admin/keys/key_nope").status_code == 404
        gone = c.delete(f"/v1/admin/keys/{made['id']}")
        assert gone.status_code == 200 and gone.json()["revoked_at"]
    revoked_at = time.monotonic()
    with pytest.raises(openai.AuthenticationError):
        sdk(gateway, secret).models.list()
    assert time.monotonic() - revoked_at < 1.0
    assert secret not in gateway.output()


def test_an_expired_key_is_refused(gateway: ServerProcess) -> None:
    key = make_key(gateway, expires_at="2020-01-01T00:00:00Z")["key"]
    with pytest.raises(openai.AuthenticationError) as info:
        sdk(gateway, key).models.list()
    assert "expired" in info.value.message


def test_the_keys_routing_applies_when_the_request_gives_none(gateway: ServerProcess) -> None:
    key = make_key(gateway, routing={"only": ["vertex"]})["key"]  # the gateway has only Gemini
    r = httpx.post(
        gateway.url + "/v1/images/generations?dryRun=true",
        json={"model": MODEL, "prompt": "x"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert r.status_code == 400 and r.json()["error"]["param"] == "provider"
    r = httpx.post(
        gateway.url + "/v1/images/generations?dryRun=true",
        json={"model": MODEL, "prompt": "x", "provider": {"only": ["gemini"]}},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert r.status_code == 200 and r.json()["provider"] == "gemini"


def test_admin_api_needs_the_master_key(gateway: ServerProcess) -> None:
    key = make_key(gateway)["key"]
    r = httpx.get(gateway.url + "/v1/admin/keys", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "PERMISSION_DENIED"
    assert httpx.get(gateway.url + "/v1/admin/keys").status_code == 401


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"colour": "red"}, "colour"),
        ({"budget": {"usd": -1}}, "budget.usd"),
        ({"budget": {"usd": 5, "period": "week"}}, "budget.period"),
        ({"budget": {"usd": 5, "models": ["no-such-model"]}}, "budget.models"),
        ({"rate_limits": {"requests_per_minute": 0}}, "rate_limits.requests_per_minute"),
        ({"rate_limits": {"images_per_minute": 0}}, "rate_limits.images_per_minute"),
        ({"models": ["no-such-model"]}, "models"),
        ({"models": []}, "models"),
        ({"routing": {"sort": "random"}}, "routing"),
        ({"expires_at": "soon"}, "expires_at"),
        ({"budget": {"usd": 5, "extra": 1}}, "budget.extra"),
    ],
)
def test_bad_key_bodies_are_400_naming_the_field(gateway: ServerProcess, body: dict, param: str) -> None:
    with admin(gateway) as c:
        r = c.post("/v1/admin/keys", json=body)
        assert r.status_code == 400, r.text
        err = r.json()["error"]
        assert err["code"] == "INVALID_REQUEST" and err["param"] == param and param in err["message"]
        assert c.post("/v1/admin/keys", content=b"[1,", headers={"Content-Type": "application/json"}).status_code == 400


def test_a_model_outside_the_key_is_403(gateway: ServerProcess) -> None:
    key = make_key(gateway, models=["gemini-2.5-flash-image"])["key"]
    with pytest.raises(openai.PermissionDeniedError) as info:
        generate(sdk(gateway, key))
    assert info.value.status_code == 403
    assert info.value.body["code"] == "MODEL_NOT_ALLOWED"  # type: ignore[index]
    r = httpx.post(
        gateway.url + "/v1/images/generations?dryRun=true",
        json={"model": MODEL, "prompt": "x"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert r.status_code == 403


def test_budget_reserves_settles_and_refuses_with_402(gateway: ServerProcess) -> None:
    master = sdk(gateway, MASTER)
    estimate = master.images.with_raw_response.generate(
        model=MODEL, prompt="a lighthouse", size="1024x1024", n=1, extra_query={"dryRun": "true"}
    ).http_response.json()["total_cost_micros"]
    assert estimate > 0
    budget = 2.5 * estimate / 1e6  # room for two requests, not three
    made = make_key(gateway, budget={"usd": budget, "period": "month"})
    client = sdk(gateway, made["key"])
    costs = []
    for _ in range(2):
        res = generate(client)
        costs.append(int(res.headers["X-Imagegate-Cost-Micros"]))
    bal = httpx.get(gateway.url + "/v1/balance", headers={"Authorization": f"Bearer {made['key']}"}).json()
    assert set(bal) == {"budget_usd", "spent_usd", "reserved_usd", "remaining_usd", "period", "period_end"}
    assert bal["budget_usd"] == pytest.approx(budget)
    assert bal["spent_usd"] == pytest.approx(sum(costs) / 1e6)  # settled at the actual cost
    assert bal["reserved_usd"] == 0
    assert bal["remaining_usd"] == pytest.approx(budget - sum(costs) / 1e6, abs=1e-6)
    now = datetime.now(UTC)
    next_month = datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, tzinfo=UTC)
    assert bal["period"] == "month" and bal["period_end"] == next_month.isoformat().replace("+00:00", "Z")
    with pytest.raises(openai.APIStatusError) as info:
        generate(client)
    assert info.value.status_code == 402
    err = info.value.body
    assert err["code"] == "INSUFFICIENT_BALANCE"  # type: ignore[index]
    assert err["estimate_usd"] == pytest.approx(estimate / 1e6)  # type: ignore[index]
    assert err["remaining_usd"] == pytest.approx(bal["remaining_usd"], abs=1e-6)  # type: ignore[index]
    assert f"{estimate / 1e6:.6f}" in err["message"]  # type: ignore[index]
    # n is part of the estimate: two images never fit where one did not
    with pytest.raises(openai.APIStatusError):
        generate(client, n=2)
    # a budget on other models leaves this one free
    other = make_key(gateway, budget={"usd": 0, "period": "day", "models": ["gemini-2.5-flash-image"]})
    assert generate(sdk(gateway, other["key"])).status_code == 200


def test_balance_of_keys_without_budget_is_null(gateway: ServerProcess) -> None:
    for key in (MASTER, make_key(gateway)["key"]):
        r = httpx.get(gateway.url + "/v1/balance", headers={"Authorization": f"Bearer {key}"})
        assert r.json() == dict.fromkeys(
            ("budget_usd", "spent_usd", "reserved_usd", "remaining_usd", "period", "period_end")
        )


def test_requests_per_minute_429_with_openai_headers(gateway: ServerProcess, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    key = make_key(gateway, rate_limits={"requests_per_minute": 2})["key"]
    client = sdk(gateway, key)
    first = client.models.with_raw_response.list()
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert first.headers["x-ratelimit-reset-requests"].endswith("s")
    second = client.models.with_raw_response.list()
    assert second.headers["x-ratelimit-remaining-requests"] == "0"
    r = httpx.get(gateway.url + "/v1/models", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 429 and r.json()["error"]["code"] == "RATE_LIMITED"
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert r.headers["x-ratelimit-remaining-requests"] == "0"
    # the openai SDK waits what the gateway says before it retries (its sleep recorded, not slept)
    import openai._base_client as base_client

    waits: list[float] = []
    monkeypatch.setattr(base_client.time, "sleep", waits.append)
    with pytest.raises(openai.RateLimitError):
        sdk(gateway, key, retries=1).models.list()
    assert len(waits) == 1 and 0 < waits[0] <= 60
    assert waits[0] == pytest.approx(int(r.headers["retry-after-ms"]) / 1000, abs=2.0)


def test_images_per_minute_counts_n(gateway: ServerProcess) -> None:
    key = make_key(gateway, rate_limits={"images_per_minute": 3})["key"]
    client = sdk(gateway, key)
    assert generate(client, n=2).status_code == 200
    with pytest.raises(openai.RateLimitError) as info:
        generate(client, n=2)
    assert info.value.body["code"] == "RATE_LIMITED"  # type: ignore[index]
    assert "images" in info.value.message
    headers = info.value.response.headers
    assert headers["x-ratelimit-limit-images"] == "3" and headers["x-ratelimit-remaining-images"] == "1"
    assert "x-ratelimit-limit-requests" not in headers and int(headers["Retry-After"]) >= 1
    with pytest.raises(openai.BadRequestError) as too_many:  # can never fit: a 400, not a 429 to retry for ever
        generate(client, n=4)
    assert too_many.value.body["param"] == "n"  # type: ignore[index]


def test_spend_reports(gateway: ServerProcess) -> None:
    made = make_key(gateway, name="spender")
    res = generate(sdk(gateway, made["key"]), n=2)
    cost = int(res.headers["X-Imagegate-Cost-Micros"]) / 1e6
    deadline = time.monotonic() + 10
    while True:  # the request log is written off the request path: wait for the row
        with admin(gateway) as c:
            by_key = c.get("/v1/admin/spend", params={"group_by": "key"}).json()
        mine = [g for g in by_key["data"] if g["group"] == made["id"]]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.1)  # polling for the log writer, not timing a result
    assert mine == [{"group": made["id"], "requests": 1, "images": 2, "spent_usd": cost, "possibly_billed_usd": 0.0}]
    with admin(gateway) as c:
        for group in ("model", "provider", "day"):
            body = c.get("/v1/admin/spend", params={"group_by": group}).json()
            assert body["group_by"] == group and body["total_usd"] >= cost
        today = datetime.now(UTC).date().isoformat()
        day = c.get("/v1/admin/spend", params={"group_by": "day", "from": today, "to": today}).json()
        assert [g["group"] for g in day["data"]] == [today]
        assert c.get("/v1/admin/spend", params={"group_by": "colour"}).status_code == 400
        assert c.get("/v1/admin/spend", params={"from": "yesterday"}).json()["error"]["param"] == "from"
    own = httpx.get(gateway.url + "/v1/spend", headers={"Authorization": f"Bearer {made['key']}"}).json()
    assert own["key_id"] == made["id"] and own["total_usd"] == cost
    assert own["data"][0]["group"] == MODEL

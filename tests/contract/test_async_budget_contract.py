"""Contract: jobs and batches run under the key's policy (budget reserved and settled, allowed models), against a
real ``imagegate serve`` with a master key in front of the Gemini fake (real prices), driven by the openai SDK."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator

import httpx
import openai
import pytest
from openai import OpenAI
from standardwebhooks import Webhook

from imagegate.testing.fleet import Fleet, ThreadedFleet
from tests.helpers_server import ServerProcess
from tests.webhook_receiver import Receiver

MASTER = "ig-async-budget-master-key-0123456789ab"
MODEL = "gemini-3-pro-image-preview"
OTHER = "gemini-2.5-flash-image"
GEN = "/v1/images/generations"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    fleet = ThreadedFleet(Fleet(workdir=tmp_path_factory.mktemp("fleet"), providers=("gemini",)))
    fleet.start()
    env = {
        **fleet.fleet.env(),
        "IMAGEGATE_PLACEHOLDER": "off",
        "IMAGEGATE_MASTER_KEY": MASTER,
        "IMAGEGATE_WEBHOOKS_ALLOW_PRIVATE": "1",
        "IMAGEGATE_WEBHOOK_RETRY_DELAYS": "0,0,0",
        "IMAGEGATE_BATCH_POLL": "0.05",
    }
    proc = ServerProcess(tmp_path_factory.mktemp("async-budget") / "data", env=env)
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()
        fleet.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def http(gateway: ServerProcess, key: str) -> httpx.Client:
    return httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def make_key(gateway: ServerProcess, **body: object) -> dict:
    with http(gateway, MASTER) as c:
        r = c.post("/v1/admin/keys", json={"name": "async", **body})
    assert r.status_code == 201, r.text
    return r.json()


def estimate_micros(gateway: ServerProcess) -> int:
    with http(gateway, MASTER) as c:
        r = c.post(GEN, params={"dryRun": "true"}, json={"model": MODEL, "prompt": "a lighthouse", "n": 1})
    assert r.status_code == 200, r.text
    value = int(r.json()["total_cost_micros"])
    assert value > 0
    return value


def balance(gateway: ServerProcess, key: str) -> dict:
    with http(gateway, key) as c:
        return c.get("/v1/balance").json()


def wait_job(gateway: ServerProcess, key: str, job_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    with http(gateway, key) as c:
        while time.monotonic() < deadline:
            resp = c.get(f"/v1/jobs/{job_id}")
            assert resp.status_code == 200, resp.text
            if resp.json()["status"] in ("succeeded", "failed", "cancelled"):
                return resp.json()
            time.sleep(0.05)  # polling for a state, not timing a result
    raise AssertionError(f"job {job_id} did not end in {timeout} s")


def sdk(gateway: ServerProcess, key: str) -> OpenAI:
    return OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0, timeout=60)


def upload(client: OpenAI, lines: list[dict]):  # type: ignore[no-untyped-def]
    data = "\n".join(json.dumps(x) for x in lines).encode()
    return client.files.create(file=("requests.jsonl", io.BytesIO(data)), purpose="batch")


def batch_line(custom_id: str, model: str = MODEL) -> dict:
    return {"custom_id": custom_id, "method": "POST", "url": GEN, "body": {"model": model, "prompt": "a lighthouse"}}


def wait_batch(client: OpenAI, batch_id: str, timeout: float = 60):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = client.batches.retrieve(batch_id)
        if batch.status in ("completed", "failed", "cancelled", "expired"):
            return batch
        time.sleep(0.05)  # polling for a state
    raise AssertionError(f"batch {batch_id} did not end in {timeout} s")


def test_job_over_budget_fails_with_402_and_spends_nothing(gateway: ServerProcess, receiver: Receiver) -> None:
    estimate = estimate_micros(gateway)
    made = make_key(gateway, budget={"usd": 0.5 * estimate / 1e6, "period": "month"})
    key = made["key"]
    with http(gateway, key) as c:
        secret = c.post("/v1/webhooks/secret").json()["secret"]
        resp = c.post(GEN, json={"model": MODEL, "prompt": "a lighthouse", "webhook_url": receiver.url()})
    assert resp.status_code == 202, resp.text
    delivery = receiver.next()
    event = Webhook(secret).verify(delivery.body, delivery.headers)
    assert event["type"] == "image.job.failed"
    assert event["data"]["error"]["code"] == "INSUFFICIENT_BALANCE"
    assert event["data"]["error"]["status"] == 402
    done = wait_job(gateway, key, resp.json()["id"])
    assert done["status"] == "failed" and done["error"]["code"] == "INSUFFICIENT_BALANCE"
    assert done["error"]["estimate_usd"] == pytest.approx(estimate / 1e6)
    bal = balance(gateway, key)
    assert bal["spent_usd"] == 0 and bal["reserved_usd"] == 0


def test_job_within_budget_settles_its_cost(gateway: ServerProcess) -> None:
    estimate = estimate_micros(gateway)
    budget = 2.5 * estimate / 1e6
    made = make_key(gateway, budget={"usd": budget, "period": "month"})
    key = made["key"]
    with http(gateway, key) as c:
        resp = c.post(GEN, json={"model": MODEL, "prompt": "a lighthouse"}, headers={"Prefer": "respond-async"})
    assert resp.status_code == 202, resp.text
    done = wait_job(gateway, key, resp.json()["id"])
    assert done["status"] == "succeeded", done
    cost = done["cost_micros"]
    assert cost > 0
    bal = balance(gateway, key)
    assert bal["spent_usd"] == pytest.approx(cost / 1e6)  # settled at the actual cost
    assert bal["reserved_usd"] == 0
    assert bal["remaining_usd"] == pytest.approx(budget - cost / 1e6, abs=1e-6)


def test_batch_over_the_remaining_budget_is_402_at_creation(gateway: ServerProcess) -> None:
    estimate = estimate_micros(gateway)
    budget = 0.2 * estimate / 1e6  # below two lines even at the Gemini batch mode's half price
    made = make_key(gateway, budget={"usd": budget, "period": "month"})
    client = sdk(gateway, made["key"])
    src = upload(client, [batch_line("a"), batch_line("b")])
    with pytest.raises(openai.APIStatusError) as info:
        client.batches.create(input_file_id=src.id, endpoint=GEN, completion_window="24h")
    assert info.value.status_code == 402
    err = info.value.body
    assert err["code"] == "INSUFFICIENT_BALANCE"  # type: ignore[index]
    assert err["remaining_usd"] == pytest.approx(budget, abs=1e-6)  # type: ignore[index]
    assert err["estimate_usd"] > budget  # type: ignore[index]
    assert "this batch" in err["message"] and f"{budget:.6f}" in err["message"]  # type: ignore[index]
    assert balance(gateway, made["key"])["spent_usd"] == 0
    with http(gateway, made["key"]) as c:
        assert c.get("/v1/batches").json()["data"] == []  # nothing was created
    # the same file fits a key whose budget covers it
    roomy = make_key(gateway, budget={"usd": 3 * estimate / 1e6, "period": "month"})
    ok = sdk(gateway, roomy["key"])
    created = ok.batches.create(
        input_file_id=upload(ok, [batch_line("a"), batch_line("b")]).id, endpoint=GEN, completion_window="24h"
    )
    assert created.status == "validating"


def test_batch_lines_run_under_the_policy(gateway: ServerProcess) -> None:
    estimate = estimate_micros(gateway)
    budget = 3 * estimate / 1e6
    made = make_key(gateway, models=[MODEL], budget={"usd": budget, "period": "month"})
    client = sdk(gateway, made["key"])
    src = upload(client, [batch_line("ok"), batch_line("other", OTHER)])
    batch = wait_batch(client, client.batches.create(input_file_id=src.id, endpoint=GEN, completion_window="24h").id)
    assert batch.status == "completed", batch
    assert batch.request_counts is not None and batch.request_counts.completed == 1
    assert batch.error_file_id is not None
    errors = [json.loads(x) for x in client.files.content(batch.error_file_id).text.splitlines()]
    assert [e["custom_id"] for e in errors] == ["other"]
    assert errors[0]["response"]["status_code"] == 403
    assert errors[0]["response"]["body"]["error"]["code"] == "MODEL_NOT_ALLOWED"
    bal = balance(gateway, made["key"])
    assert bal["spent_usd"] > 0 and bal["reserved_usd"] == 0
    assert bal["spent_usd"] == pytest.approx(batch.model_extra["cost_micros"] / 1e6)  # type: ignore[index]


def test_a_gemini_batch_mode_batch_is_charged_to_the_budget(gateway: ServerProcess) -> None:
    estimate = estimate_micros(gateway)
    made = make_key(gateway, budget={"usd": 3 * estimate / 1e6, "period": "month"})
    client = sdk(gateway, made["key"])
    src = upload(client, [batch_line("x"), batch_line("y")])
    batch = wait_batch(client, client.batches.create(input_file_id=src.id, endpoint=GEN, completion_window="24h").id)
    assert batch.status == "completed" and batch.output_file_id is not None, batch
    lines = [json.loads(x) for x in client.files.content(batch.output_file_id).text.splitlines()]
    assert {line["response"]["body"]["metadata"]["batch"]["mode"] for line in lines} == {"provider"}
    cost = sum(line["response"]["body"]["metadata"]["cost_micros"] for line in lines)
    assert cost > 0
    bal = balance(gateway, made["key"])
    assert bal["spent_usd"] == pytest.approx(cost / 1e6) and bal["reserved_usd"] == 0

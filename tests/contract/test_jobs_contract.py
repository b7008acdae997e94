"""Async jobs and Standard Webhooks through real ``imagegate serve`` processes and a real loopback receiver.

Signatures are checked with the ``standardwebhooks`` package. Retries run on a zero-delay schedule
(``IMAGEGATE_WEBHOOK_RETRY_DELAYS``), so nothing here sleeps.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import openai
import orjson
import pytest
from openai import OpenAI
from standardwebhooks import Webhook

from tests.helpers_server import ServerProcess
from tests.webhook_receiver import Receiver

MODEL = "gemini-3-pro-image"
ENV = {"IMAGEGATE_WEBHOOKS_ALLOW_PRIVATE": "1", "IMAGEGATE_WEBHOOK_RETRY_DELAYS": "0,0,0"}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("jobs") / "data", env=ENV)
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def client(gateway: ServerProcess) -> OpenAI:
    return OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=30)


def wait_job(
    base: str, job_id: str, until: tuple[str, ...] = ("succeeded", "failed", "cancelled"), timeout: float = 60
) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = httpx.get(f"{base}/v1/jobs/{job_id}", timeout=10)
        if resp.status_code == 200 and resp.json()["status"] in until:
            return resp.json()
        time.sleep(0.05)  # polling for a state, not timing a result
    raise AssertionError(f"job {job_id} not in {until} after {timeout} s")


def secret_of(gateway: ServerProcess) -> str:
    """Rotate the key's secret (the only way to see it again) and return the new one."""
    resp = httpx.post(gateway.url + "/v1/webhooks/secret", timeout=10)
    assert resp.status_code == 200
    return resp.json()["secret"]


def test_webhook_job_succeeds_and_delivery_is_signed(
    client: OpenAI, gateway: ServerProcess, receiver: Receiver
) -> None:
    raw = client.images.with_raw_response.generate(
        model=MODEL, prompt="a signed job", extra_body={"webhook_url": receiver.url()}
    )
    assert raw.http_response.status_code == 202
    job = orjson.loads(raw.http_response.content)
    assert job["object"] == "image.job" and job["status"] == "queued" and job["id"].startswith("job_")
    secret = job.get("webhook_secret") or secret_of(gateway)  # shown on the key's first webhook job only
    assert secret.startswith("whsec_")
    delivery = receiver.next()
    event = Webhook(secret).verify(delivery.body, delivery.headers)  # raises on a bad signature
    assert delivery.headers["webhook-signature"].startswith("v1,")
    assert event["type"] == "image.job.succeeded"
    assert event["data"]["id"] == job["id"] and event["data"]["status"] == "succeeded"
    assert event["data"]["result"]["data"][0]["url"].startswith("http")
    done = wait_job(gateway.url, job["id"])
    assert done["result"]["metadata"]["provider"] == "placeholder"
    assert done["webhook_deliveries"][0]["status"] == "delivered"
    assert "webhook_secret" not in done  # never shown again


def test_prefer_respond_async_without_webhook(client: OpenAI, gateway: ServerProcess) -> None:
    raw = client.images.with_raw_response.generate(
        model=MODEL, prompt="async please", response_format="b64_json", extra_headers={"Prefer": "respond-async"}
    )
    assert raw.http_response.status_code == 202
    job = orjson.loads(raw.http_response.content)
    done = wait_job(gateway.url, job["id"])
    assert done["status"] == "succeeded" and done["result"]["data"][0]["b64_json"]
    assert "webhook_deliveries" not in done


def test_receiver_failing_twice_gets_the_event_on_the_third_try(gateway: ServerProcess, receiver: Receiver) -> None:
    receiver.statuses = [500, 500]
    secret = secret_of(gateway)
    job = httpx.post(
        gateway.url + "/v1/images/generations",
        json={"model": MODEL, "prompt": "retry me", "webhook_url": receiver.url()},
        timeout=30,
    ).json()
    tries = [receiver.next() for _ in range(3)]
    assert [t.answered for t in tries] == [500, 500, 200]
    assert len({t.headers["webhook-id"] for t in tries}) == 1  # one message, retried
    for t in tries:  # each try signed afresh
        assert Webhook(secret).verify(t.body, t.headers)["type"] == "image.job.succeeded"
    done = wait_job(gateway.url, job["id"])
    deadline = time.monotonic() + 30
    while done["webhook_deliveries"][0]["status"] != "delivered" and time.monotonic() < deadline:
        done = wait_job(gateway.url, job["id"])
    assert done["webhook_deliveries"][0]["status"] == "delivered"
    assert done["webhook_deliveries"][0]["attempts"] == 3


def test_delivery_fails_after_the_schedule_and_shows_on_the_job(gateway: ServerProcess, receiver: Receiver) -> None:
    receiver.statuses = [500, 503, 500, 502]
    job = httpx.post(
        gateway.url + "/v1/images/generations",
        json={"model": MODEL, "prompt": "never delivered", "webhook_url": receiver.url()},
        timeout=30,
    ).json()
    assert [receiver.next().answered for _ in range(4)] == [500, 503, 500, 502]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done = wait_job(gateway.url, job["id"])
        if done.get("webhook_deliveries", [{}])[0].get("status") == "failed":
            break
        time.sleep(0.05)  # polling for a state
    hook = done["webhook_deliveries"][0]
    assert hook["status"] == "failed" and hook["attempts"] == 4 and hook["last_status"] == 502
    assert "502" in hook["last_error"]
    assert receiver.deliveries.empty()


def test_failed_job_sends_failed_event(gateway: ServerProcess, receiver: Receiver) -> None:
    secret = secret_of(gateway)
    resp = httpx.post(
        gateway.url + "/v1/images/generations",
        json={"model": MODEL, "prompt": "no recording of this", "webhook_url": receiver.url()},
        headers={"X-Imagegate-Replay": "replay-or-error"},
        timeout=30,
    )
    assert resp.status_code == 202
    delivery = receiver.next()
    event = Webhook(secret).verify(delivery.body, delivery.headers)
    assert event["type"] == "image.job.failed" and event["data"]["error"]["code"] == "RECORDING_NOT_FOUND"
    done = wait_job(gateway.url, resp.json()["id"])
    assert done["status"] == "failed" and done["error"]["code"] == "RECORDING_NOT_FOUND"


def test_cancel_a_queued_job_and_unknown_jobs(gateway: ServerProcess) -> None:
    assert httpx.get(gateway.url + "/v1/jobs/job_nope").json()["error"]["code"] == "JOB_NOT_FOUND"
    assert httpx.post(gateway.url + "/v1/jobs/job_nope/cancel").status_code == 404
    job = httpx.post(
        gateway.url + "/v1/images/generations",
        json={"model": MODEL, "prompt": "cancel me"},
        headers={"Prefer": "respond-async"},
    ).json()
    cancelled = httpx.post(gateway.url + f"/v1/jobs/{job['id']}/cancel").json()
    # the runner may have finished it first: a job that ended stays as it ended
    assert cancelled["status"] in ("cancelled", "succeeded")
    assert wait_job(gateway.url, job["id"])["status"] == cancelled["status"]


def test_bad_async_requests_are_4xx(client: OpenAI, gateway: ServerProcess) -> None:
    with pytest.raises(openai.NotFoundError):  # validated before a job is made
        client.images.generate(model="no-such-model", prompt="x", extra_headers={"Prefer": "respond-async"})
    strict = ServerProcess(gateway.data_dir.parent / "strict", env={})
    try:
        strict.wait_ready()
        for url in (
            "http://example.com/hook",
            "https://127.0.0.1/hook",
            "https://localhost/h",
            "https://example.com:8080/h",
            "not a url",
        ):
            resp = httpx.post(
                strict.url + "/v1/images/generations",
                json={"model": MODEL, "prompt": "x", "webhook_url": url},
                timeout=30,
            )
            assert resp.status_code == 400, url
            assert resp.json()["error"]["param"] == "webhook_url"
    finally:
        strict.stop()

"""The Batch API through a real ``imagegate serve`` in front of the Gemini fake, driven by the openai SDK unchanged.

Batches whose lines all fit the Gemini API's batch mode run there (one provider batch, batch prices); others run
line by line through the pipeline (emulated, interactive prices)."""

from __future__ import annotations

import base64
import io
import json
import sqlite3
import time
from collections.abc import Iterator

import httpx
import openai
import pytest
from openai import OpenAI
from PIL import Image

from imagegate.testing.fakes.gemini.batch import WORLD, BatchWorld
from imagegate.testing.fleet import Fleet, ThreadedFleet
from tests.helpers_fleet import running_fleet, running_gateway
from tests.helpers_server import ServerProcess

MODEL = "gemini/gemini-3-pro-image-preview"
GEN = "/v1/images/generations"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedFleet]:
    with running_fleet(Fleet(workdir=tmp_path_factory.mktemp("bfleet"), providers=("gemini",))) as threaded:
        yield threaded


@pytest.fixture(scope="module")
def gateway(fleet: ThreadedFleet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {
        **fleet.fleet.env(),
        "IMAGEGATE_PLACEHOLDER": "off",
        "IMAGEGATE_BATCH_CONCURRENCY": "3",
        "IMAGEGATE_BATCH_POLL": "0.05",
    }
    with running_gateway(tmp_path_factory.mktemp("batches") / "data", env) as proc:
        yield proc


@pytest.fixture(scope="module")
def client(gateway: ServerProcess) -> OpenAI:
    return OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=60)


def line(custom_id: str, prompt: str, url: str = GEN, **body: object) -> str:
    return json.dumps(
        {"custom_id": custom_id, "method": "POST", "url": url, "body": {"model": MODEL, "prompt": prompt, **body}}
    )


def upload(client: OpenAI, lines: list[str]):  # type: ignore[no-untyped-def]
    return client.files.create(file=("requests.jsonl", io.BytesIO("\n".join(lines).encode())), purpose="batch")


def wait_batch(client: OpenAI, batch_id: str, timeout: float = 60):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = client.batches.retrieve(batch_id)
        if batch.status in ("completed", "failed", "cancelled", "expired"):
            return batch
        time.sleep(0.05)  # polling for a state
    raise AssertionError(f"batch {batch_id} did not end in {timeout} s")


def read_jsonl(client: OpenAI, file_id: str) -> list[dict]:
    return [json.loads(x) for x in client.files.content(file_id).text.splitlines()]


def _logged(gateway: ServerProcess, ids: list[str]) -> list[tuple]:
    """Rows of the gateway's request log for ``ids`` (the recorder writes in the background: wait for them)."""
    db = sqlite3.connect(gateway.data_dir / "imagegate.db")
    try:
        deadline = time.monotonic() + 15
        while True:
            marks = ",".join("?" * len(ids))
            rows = db.execute(f"SELECT id, provider, cost_micros FROM requests WHERE id IN ({marks})", ids).fetchall()
            if len(rows) == len(ids) or time.monotonic() > deadline:
                return rows
            time.sleep(0.05)  # polling for the background writer
    finally:
        db.close()


def _world(fleet: ThreadedFleet) -> BatchWorld:
    return fleet.fleet.running["gemini"].app[WORLD]


@pytest.mark.parametrize("mode", ["gemini", "emulated"])
def test_batch_runs_every_line_once_through_the_sdk(
    client: OpenAI, gateway: ServerProcess, fleet: ThreadedFleet, mode: str
) -> None:
    n = 1 if mode == "gemini" else 2  # two images a line do not fit Gemini batch mode (one call, one image)
    lines = [
        line(f"req-{i}", f"a tiny house #{i}", size="1024x1024", response_format="b64_json", n=n) for i in range(7)
    ]
    src = upload(client, lines)
    assert src.purpose == "batch" and src.bytes > 0 and client.files.retrieve(src.id).id == src.id
    world = _world(fleet)
    batch_requests_before, batches_before = world.seen_batch_requests, len(world.batches)
    batch = client.batches.create(
        input_file_id=src.id, endpoint=GEN, completion_window="24h", metadata={"run": "nightly"}
    )
    assert batch.status == "validating" and batch.request_counts.total == 7  # type: ignore[union-attr]
    assert batch.model_extra["mode"] == mode
    interactive = httpx.post(
        gateway.url + "/v1/images/generations?dryRun=true", json=json.loads(lines[0])["body"], timeout=10
    ).json()["total_cost_micros"]
    estimate = batch.model_extra["estimate"]
    if mode == "gemini":  # the seed's batch price: $0.067 an image instead of $0.134
        assert estimate["priced_as"] == "batch" and 7 * 67_000 <= estimate["total_cost_micros"] < 7 * interactive * 0.55
    else:
        assert estimate["priced_as"] == "interactive" and estimate["total_cost_micros"] == 7 * interactive
    done = wait_batch(client, batch.id)
    assert done.status == "completed" and done.metadata == {"run": "nightly"}
    assert done.request_counts.completed == 7 and done.request_counts.failed == 0  # type: ignore[union-attr]
    assert done.error_file_id is None and done.output_file_id
    out = read_jsonl(client, done.output_file_id)
    assert sorted(o["custom_id"] for o in out) == sorted(f"req-{i}" for i in range(7))  # each exactly once
    for o in out:
        assert o["id"].startswith("batch_req_") and o["error"] is None
        assert o["response"]["status_code"] == 200 and o["response"]["request_id"].startswith("req_")
        body = o["response"]["body"]
        assert body["metadata"]["provider"] == "gemini" and len(body["data"]) == n
        cost = body["metadata"]["cost_micros"]
        assert (67_000 <= cost < interactive * 0.55) if mode == "gemini" else cost >= interactive * 0.9
        assert Image.open(io.BytesIO(base64.b64decode(body["data"][0]["b64_json"]))).size == (1024, 1024)
    if mode == "gemini":  # one provider batch of seven requests, nothing line by line
        assert world.seen_batch_requests - batch_requests_before == 7 and len(world.batches) == batches_before + 1
        logged = _logged(gateway, [o["response"]["request_id"] for o in out])
        assert len(logged) == 7 and {r[1] for r in logged} == {"gemini"}  # in the request log, at batch cost
        assert sum(r[2] for r in logged) == sum(o["response"]["body"]["metadata"]["cost_micros"] for o in out)
    else:
        assert world.seen_batch_requests == batch_requests_before
    assert any(b.id == batch.id for b in client.batches.list(limit=5).data)


def test_provider_batch_refusal_goes_to_the_error_file(client: OpenAI, fleet: ThreadedFleet) -> None:
    fleet.call(_world(fleet).refuse_keys.add, "refused")
    lines = [line("refused", "refused in the batch", response_format="b64_json"), line("fine", "accepted")]
    batch = client.batches.create(input_file_id=upload(client, lines).id, endpoint=GEN, completion_window="24h")
    assert batch.model_extra["mode"] == "gemini"
    done = wait_batch(client, batch.id)
    assert done.request_counts.completed == 1 and done.request_counts.failed == 1  # type: ignore[union-attr]
    (err,) = read_jsonl(client, done.error_file_id)  # type: ignore[arg-type]
    assert err["custom_id"] == "refused" and err["response"]["body"]["error"]["code"] == "UPSTREAM_ERROR"
    (ok,) = read_jsonl(client, done.output_file_id)  # type: ignore[arg-type]
    assert ok["custom_id"] == "fine"


def test_malformed_lines_fail_validation_with_line_numbers(client: OpenAI) -> None:
    lines = [
        line("ok-1", "fine"),
        "{not json",
        json.dumps({"method": "POST", "url": GEN, "body": {"model": MODEL, "prompt": "x"}}),
        line("ok-2", "wrong endpoint", url="/v1/chat/completions"),
        line("ok-1", "duplicate id"),
        line("ok-3", "bad n", n=99),
        line("ok-4", "unknown model", model="no-such-model"),
    ]
    batch = client.batches.create(input_file_id=upload(client, lines).id, endpoint=GEN, completion_window="24h")
    assert batch.status == "failed"
    errors = {e.line: e for e in batch.errors.data}  # type: ignore[union-attr]
    assert sorted(errors) == [2, 3, 4, 5, 6, 7]
    assert errors[2].code == "invalid_json" and errors[3].param == "custom_id" and errors[4].param == "url"
    assert "duplicate" in (errors[5].message or "") and errors[6].param == "n"
    assert errors[7].code == "model_not_found"


def test_failed_lines_go_to_the_error_file(client: OpenAI, fleet: ThreadedFleet) -> None:
    fleet.call(fleet.fleet.states["gemini"].injector.force, "content_policy", "content_policy")
    try:  # n=2: the emulated path, where the fake's forced faults apply
        lines = [line("only", "refused at the provider", response_format="b64_json", n=2)]
        batch = client.batches.create(input_file_id=upload(client, lines).id, endpoint=GEN, completion_window="24h")
        done = wait_batch(client, batch.id)
    finally:
        fleet.call(fleet.fleet.states["gemini"].injector.forced.clear)
    assert done.status == "completed" and done.output_file_id is None
    assert done.request_counts.failed == 1  # type: ignore[union-attr]
    (err,) = read_jsonl(client, done.error_file_id)  # type: ignore[arg-type]
    assert err["custom_id"] == "only" and err["response"]["status_code"] == 400
    assert err["response"]["body"]["error"]["code"] == "UPSTREAM_ERROR"


def test_edits_batch_with_data_url_images(client: OpenAI) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 200, 30)).save(buf, format="PNG")
    data_url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    lines = [line("edit-1", "make it blue", url="/v1/images/edits", image=data_url, response_format="b64_json")]
    batch = client.batches.create(
        input_file_id=upload(client, lines).id, endpoint="/v1/images/edits", completion_window="24h"
    )
    done = wait_batch(client, batch.id)
    assert done.request_counts.completed == 1  # type: ignore[union-attr]
    (out,) = read_jsonl(client, done.output_file_id)  # type: ignore[arg-type]
    assert out["response"]["body"]["data"][0]["b64_json"]


def test_bad_batch_requests_are_4xx(client: OpenAI, gateway: ServerProcess) -> None:
    with pytest.raises(openai.BadRequestError):
        client.files.create(file=("x.jsonl", io.BytesIO(b"{}")), purpose="fine-tune")
    with pytest.raises(openai.NotFoundError):
        client.batches.create(input_file_id="file-nope", endpoint=GEN, completion_window="24h")
    src = upload(client, [line("a", "b")])
    with pytest.raises(openai.BadRequestError):
        client.batches.create(input_file_id=src.id, endpoint="/v1/embeddings", completion_window="24h")  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError):
        client.batches.create(input_file_id=src.id, endpoint=GEN, completion_window="1h")  # type: ignore[arg-type]
    with pytest.raises(openai.NotFoundError):
        client.batches.retrieve("batch_nope")
    assert httpx.get(gateway.url + "/v1/files/file-nope/content").status_code == 404


def test_cancel_a_waiting_batch(tmp_path) -> None:  # type: ignore[no-untyped-def]
    gateway = ServerProcess(tmp_path / "data", env={"IMAGEGATE_JOBS_IN_PROCESS": "0"})  # nothing runs it
    try:
        gateway.wait_ready()
        client = OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0)
        lines = [
            json.dumps(
                {"custom_id": "c", "method": "POST", "url": GEN, "body": {"model": "gemini-3-pro-image", "prompt": "x"}}
            )
        ]
        batch = client.batches.create(input_file_id=upload(client, lines).id, endpoint=GEN, completion_window="24h")
        cancelled = client.batches.cancel(batch.id)
        assert cancelled.status == "cancelled" and cancelled.cancelled_at
    finally:
        gateway.stop()

"""Contract: streamed partial images (``stream=True``) through a real ``imagegate serve`` in front of the fakes,
consumed by the official openai SDK unchanged."""

from __future__ import annotations

import base64
import io
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import orjson
import pytest
from openai import OpenAI
from PIL import Image

from imagegate.testing.faults import FaultProfile
from imagegate.testing.fleet import Fleet, ThreadedFleet
from tests.helpers_fleet import running_fleet, running_gateway
from tests.helpers_server import ServerProcess

NANO = "gemini-3-pro-image-preview"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedFleet]:
    with running_fleet(Fleet(workdir=tmp_path_factory.mktemp("fleet"))) as threaded:
        yield threaded


@pytest.fixture(scope="module")
def gateway(fleet: ThreadedFleet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {**fleet.fleet.env(), "IMAGEGATE_PLACEHOLDER": "off", "IMAGEGATE_STREAM_KEEPALIVE": "0.05"}
    with running_gateway(tmp_path_factory.mktemp("stream") / "data", env) as proc:
        yield proc


@pytest.fixture
def client(gateway: ServerProcess, fleet: ThreadedFleet) -> Iterator[OpenAI]:
    yield OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=60)
    for name, state in fleet.fleet.states.items():
        fleet.call(state.injector.forced.clear)
        fleet.call(state.injector.reconfigure, FaultProfile())
        if name == "openai":
            fleet.call(setattr, state, "stream_fault", None)
            fleet.call(setattr, state, "partial_interval_s", 0.02)


def png(size: int = 64) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def decoded(b64: str) -> Image.Image:
    img = Image.open(io.BytesIO(base64.b64decode(b64)))
    img.load()
    return img


def sse_events(text: str) -> list[tuple[str | None, str]]:
    """(event, data) pairs and (":", comment) for comments, in order."""
    out: list[tuple[str | None, str]] = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        if block.startswith(":"):
            out.append((":", block[1:].strip()))
            continue
        name = None
        data = []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        out.append((name, "\n".join(data)))
    return out


def request_row(gateway: ServerProcess, request_id: str) -> tuple | None:
    with sqlite3.connect(Path(gateway.data_dir) / "imagegate.db") as db:
        return db.execute(
            "select status, error_class, provider, cost_micros from requests where id = ?", (request_id,)
        ).fetchone()


def wait_row(gateway: ServerProcess, request_id: str) -> tuple:
    deadline = time.monotonic() + 20
    while (row := request_row(gateway, request_id)) is None:
        assert time.monotonic() < deadline, "the request was never logged"
        time.sleep(0.05)  # polling the background log writer, not timing a result
    return row


def test_sdk_streams_partial_images_from_openai(client: OpenAI) -> None:
    events = list(client.images.generate(model="gpt-image-1", prompt="a paper boat", size="1024x1024",
                                         stream=True, partial_images=2))  # fmt: skip
    assert [e.type for e in events] == [
        "image_generation.partial_image", "image_generation.partial_image", "image_generation.completed"
    ]  # fmt: skip
    assert [e.partial_image_index for e in events[:2]] == [0, 1]
    for e in events:
        assert decoded(e.b64_json).size == (1024, 1024)
        assert e.size == "1024x1024" and e.output_format == "png" and e.created_at > 0
        assert e.quality and e.background
    done = events[-1]
    assert done.usage.output_tokens == 1056 + 200  # medium 1024x1024, plus 100 tokens per partial image
    assert done.usage.input_tokens_details.text_tokens > 0
    meta = done.model_extra["metadata"]
    assert meta["provider"] == "openai" and meta["model"] == "gpt-image-1"
    assert meta["cost_micros"] > 0 and meta["attempts"][0]["outcome"] == "success"


def test_sdk_streams_an_edit(client: OpenAI) -> None:
    stream = client.images.edit(model="gpt-image-1", image=("a.png", png(), "image/png"), prompt="add a hat",
                                stream=True, partial_images=1)  # fmt: skip
    events = list(stream)
    assert [e.type for e in events] == ["image_edit.partial_image", "image_edit.completed"]
    assert events[-1].model_extra["metadata"]["provider"] == "openai"


def test_partial_images_zero_is_one_completed_event(client: OpenAI) -> None:
    events = list(client.images.generate(model="gpt-image-1", prompt="x", stream=True, partial_images=0))
    assert [e.type for e in events] == ["image_generation.completed"]


def test_non_streaming_provider_sends_keepalives_then_the_completed_event(
    gateway: ServerProcess, fleet: ThreadedFleet
) -> None:
    # The fake takes ~0.4 s; the gateway's keep-alive interval is 0.05 s.
    fleet.call(fleet.fleet.states["gemini"].injector.reconfigure, FaultProfile(p50_ms=400, p95_ms=400))
    body = {"model": f"gemini/{NANO}", "prompt": "a red fox", "stream": True, "partial_images": 2,
            "size": "1024x1024"}  # fmt: skip
    with httpx.stream("POST", gateway.url + "/v1/images/generations", json=body, timeout=30) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        text = resp.read().decode()
    events = sse_events(text)
    assert (":", "keep-alive") in events
    named = [e for e in events if e[0] != ":"]
    assert [e[0] for e in named] == ["image_generation.completed"]
    data = orjson.loads(named[0][1])
    assert data["type"] == "image_generation.completed" and data["size"] == "1024x1024"
    assert data["metadata"]["provider"] == "gemini" and data["usage"]["output_tokens"] > 0
    assert decoded(data["b64_json"]).size == (1024, 1024)


def test_failover_happens_before_the_first_event(client: OpenAI, fleet: ThreadedFleet) -> None:
    fleet.call(fleet.fleet.states["gemini"].injector.force, "unavailable")
    events = list(client.images.generate(model=NANO, prompt="a castle", stream=True, partial_images=1,
                                         extra_body={"provider": {"order": ["gemini", "vertex"]}}))  # fmt: skip
    assert [e.type for e in events] == ["image_generation.completed"]
    attempts = events[0].model_extra["metadata"]["attempts"]
    assert [(a["provider"], a["outcome"]) for a in attempts] == [("gemini", "Unavailable"), ("vertex", "success")]


@pytest.mark.parametrize("fault", ["error", "cut"])
def test_failure_after_a_partial_is_an_error_event_and_logged(
    client: OpenAI, gateway: ServerProcess, fleet: ThreadedFleet, fault: str
) -> None:
    fleet.call(setattr, fleet.fleet.states["openai"], "stream_fault", fault)
    raw = client.images.with_raw_response.generate(model="gpt-image-1", prompt="a kite", stream=True,
                                                   partial_images=2)  # fmt: skip
    request_id = raw.headers["x-imagegate-request-id"]
    seen = []
    with pytest.raises(openai.APIError) as info:
        for e in raw.parse():
            seen.append(e.type)
    assert seen == ["image_generation.partial_image"]  # bound to openai: no failover after the first partial
    assert info.value.body["code"] == "STREAM_INTERRUPTED"
    status, error_class, provider, _cost = wait_row(gateway, request_id)
    assert status == 502 and error_class == "StreamInterrupted"


def test_errors_before_the_stream_are_http_errors(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.images.generate(model="no-such-model", prompt="x", stream=True)


@pytest.mark.parametrize(
    "body,param",
    [
        ({"partial_images": 4}, "partial_images"),
        ({"partial_images": -1}, "partial_images"),
        ({"stream": "yes"}, "stream"),
        ({"n": 2, "partial_images": 2}, "n"),
    ],
)
def test_bad_stream_input_names_the_field(gateway: ServerProcess, body: dict, param: str) -> None:
    payload = {"model": "gpt-image-1", "prompt": "x", "stream": True, **body}
    resp = httpx.post(gateway.url + "/v1/images/generations", json=payload, timeout=30)
    assert resp.status_code == 400
    err = resp.json()["error"]
    assert err["param"] == param and err["type"] == "invalid_request_error"


def test_n_above_one_without_partials_is_one_completed_event_per_image(gateway: ServerProcess) -> None:
    payload = {"model": f"gemini/{NANO}", "prompt": "twins", "stream": True, "n": 2}
    resp = httpx.post(gateway.url + "/v1/images/generations", json=payload, timeout=30)
    named = [e for e in sse_events(resp.text) if e[0] != ":"]
    assert [e[0] for e in named] == ["image_generation.completed"] * 2


def test_client_disconnect_cancels_the_upstream_and_logs_what_was_billed(
    gateway: ServerProcess, fleet: ThreadedFleet
) -> None:
    state = fleet.fleet.states["openai"]
    fleet.call(setattr, state, "partial_interval_s", 1.0)  # the second partial comes after we have left
    body = {"model": "gpt-image-1", "prompt": "leave early", "stream": True, "partial_images": 2}
    with httpx.stream("POST", gateway.url + "/v1/images/generations", json=body, timeout=30) as resp:
        request_id = resp.headers["x-imagegate-request-id"]
        for line in resp.iter_lines():
            if line.startswith("event: image_generation.partial_image"):
                break
    status, error_class, provider, cost = wait_row(gateway, request_id)
    assert (status, error_class, provider) == (499, "CLIENT_DISCONNECTED", "openai")
    assert cost == 100 * 40  # one partial image: 100 output image tokens at $40 per million
    deadline = time.monotonic() + 20
    while "client_gone" not in state.stream_outcomes:  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "the upstream stream was never cancelled"
        time.sleep(0.05)  # polling the fake's record


def test_fal_queue_progress_comes_as_comments(gateway: ServerProcess, fleet: ThreadedFleet) -> None:
    fleet.call(fleet.fleet.states["fal"].injector.reconfigure, FaultProfile(p50_ms=600, p95_ms=600))
    body = {"model": f"fal/{NANO}", "prompt": "a lantern", "stream": True, "partial_images": 1}
    with httpx.stream("POST", gateway.url + "/v1/images/generations", json=body, timeout=30) as resp:
        events = sse_events(resp.read().decode())
    notes = [text for name, text in events if name == ":" and text.startswith("progress ")]
    assert notes and all(n.startswith("progress fal ") for n in notes)
    assert [e[0] for e in events if e[0] != ":"] == ["image_generation.completed"]


def test_chat_image_url_to_a_loopback_address_is_refused_by_default(gateway: ServerProcess) -> None:
    # This gateway runs with the default allow_private_image_urls=false (the chat tests' gateway allows loopback).
    for url in (gateway.url + "/health", "http://localhost:1/a.png", "http://[::1]/a.png", "http://169.254.169.254/"):
        body = {"model": NANO, "modalities": ["image", "text"], "messages": [{"role": "user", "content": [
            {"type": "text", "text": "edit"}, {"type": "image_url", "image_url": {"url": url}}]}]}  # fmt: skip
        resp = httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=30)
        assert resp.status_code == 400, resp.text
        err = resp.json()["error"]
        assert err["param"] == "messages[0].content[1].image_url" and "non-public" in err["message"]

"""Contract: chat completions with image output (OpenRouter's shape) through a real ``imagegate serve``, driven by
the official openai SDK (``extra_body={"modalities": ["image", "text"]}``, images read from ``model_extra``)."""

from __future__ import annotations

import base64
import http.server
import io
import sqlite3
import threading
import time
from collections.abc import Iterator

import httpx
import openai
import pytest
from openai import OpenAI
from PIL import Image

from imagegate.media.sizes import pixel_size
from imagegate.testing.fleet import Fleet, ThreadedFleet
from tests.helpers_fleet import running_fleet, running_gateway
from tests.helpers_server import ServerProcess

NANO = "gemini-3-pro-image-preview"
IMAGE_OUT = {"modalities": ["image", "text"]}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedFleet]:
    with running_fleet(Fleet(workdir=tmp_path_factory.mktemp("fleet"))) as threaded:
        yield threaded


@pytest.fixture(scope="module")
def gateway(fleet: ThreadedFleet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {
        **fleet.fleet.env(),
        "IMAGEGATE_PLACEHOLDER": "off",
        "IMAGEGATE_STREAM_KEEPALIVE": "0.05",
        "IMAGEGATE_ALLOW_PRIVATE_IMAGE_URLS": "true",
    }  # the image server below is on loopback
    with running_gateway(tmp_path_factory.mktemp("chat") / "data", env) as proc:
        yield proc


@pytest.fixture
def client(gateway: ServerProcess, fleet: ThreadedFleet) -> Iterator[OpenAI]:
    yield OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=60)
    for state in fleet.fleet.states.values():
        fleet.call(state.injector.forced.clear)


def png(size: int = 64, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buf, format="PNG")
    return buf.getvalue()


def data_url(raw: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(raw).decode()


def image_of(url: str) -> Image.Image:
    assert url.startswith("data:image/png;base64,")
    img = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    img.load()
    return img


@pytest.fixture(scope="module")
def image_server() -> Iterator[str]:
    """A plain HTTP server on loopback serving one PNG at /cat.png and a redirect at /moved."""
    body = png(48, (10, 200, 10))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            if self.path == "/moved":
                self.send_response(302)
                self.send_header("Location", "/cat.png")
                self.end_headers()
                return
            self.send_response(200 if self.path == "/cat.png" else 404)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_chat_returns_text_and_images(client: OpenAI) -> None:
    res = client.chat.completions.create(
        model=NANO, messages=[{"role": "user", "content": "a lighthouse at dusk"}],
        extra_body={**IMAGE_OUT, "image_config": {"aspect_ratio": "16:9", "image_size": "2K"}},
    )  # fmt: skip
    assert res.object == "chat.completion"
    message = res.choices[0].message
    assert message.role == "assistant" and "lighthouse at dusk" in message.content  # Gemini's text is kept
    images = message.model_extra["images"]
    assert len(images) == 1 and images[0]["type"] == "image_url"
    assert image_of(images[0]["image_url"]["url"]).size == pixel_size("16:9", "2K")
    assert res.choices[0].finish_reason == "stop"
    assert res.usage.prompt_tokens > 0 and res.usage.completion_tokens > 0
    assert res.usage.total_tokens == res.usage.prompt_tokens + res.usage.completion_tokens
    meta = res.metadata  # ChatCompletion declares ``metadata``; ours is the gateway's (provider, cost, attempts)
    assert meta["model"] == NANO and meta["cost_micros"] > 0 and meta["attempts"][-1]["outcome"] == "success"
    assert res.usage.model_extra["cost"] == meta["cost"]


def test_image_only_model_has_empty_content(client: OpenAI) -> None:
    res = client.chat.completions.create(model="gpt-image-1", messages=[{"role": "user", "content": "a fox"}],
                                         extra_body=IMAGE_OUT)  # fmt: skip
    assert res.choices[0].message.content == ""
    assert image_of(res.choices[0].message.model_extra["images"][0]["image_url"]["url"]).size == (1024, 1024)
    assert res.metadata["provider"] == "openai"


def test_multi_turn_edits_the_last_image(client: OpenAI, fleet: ThreadedFleet) -> None:
    first = client.chat.completions.create(model=f"gemini/{NANO}", extra_body=IMAGE_OUT,
                                           messages=[{"role": "user", "content": "a quiet street"}])  # fmt: skip
    answer = first.choices[0].message.model_dump(exclude_none=True)  # carries "images" back, as clients do
    second = client.chat.completions.create(
        model=f"gemini/{NANO}", extra_body=IMAGE_OUT,
        messages=[{"role": "user", "content": "a quiet street"}, answer, {"role": "user", "content": "make it night"}],
    )  # fmt: skip
    assert second.metadata["provider"] == "gemini"
    sent = fleet.fleet.states["gemini"].calls("gemini")[-1]["body"]  # type: ignore[attr-defined]
    parts = sent["contents"][-1]["parts"]
    inline = [p for p in parts if "inlineData" in p or "inline_data" in p]
    texts = [p["text"] for p in parts if "text" in p]
    assert texts == ["make it night"] and len(inline) == 1
    blob = (inline[0].get("inlineData") or inline[0]["inline_data"])["data"]
    previous = answer["images"][0]["image_url"]["url"].split(",", 1)[1]
    assert blob == previous  # the image the assistant answered is the one edited


def test_image_url_parts_data_and_http(client: OpenAI, image_server: str) -> None:
    for url in (data_url(png()), image_server + "/cat.png", image_server + "/moved"):
        res = client.chat.completions.create(
            model=f"gemini/{NANO}", extra_body=IMAGE_OUT,
            messages=[{"role": "user", "content": [{"type": "text", "text": "make it blue"},
                                                   {"type": "image_url", "image_url": {"url": url}}]}],
        )  # fmt: skip
        assert res.metadata["provider"] == "gemini"


def test_stream_sends_chunks_and_done(client: OpenAI) -> None:
    stream = client.chat.completions.create(model=f"gemini/{NANO}", stream=True, extra_body=IMAGE_OUT,
                                            messages=[{"role": "user", "content": "a bridge"}])  # fmt: skip
    chunks = list(stream)  # the SDK stops at data: [DONE]
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant" and "a bridge" in chunks[0].choices[0].delta.content
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert image_of(last.choices[0].delta.model_extra["images"][0]["image_url"]["url"]).size == (1024, 1024)
    assert last.usage.completion_tokens > 0 and last.model_extra["metadata"]["provider"] == "gemini"


def test_stream_raw_ends_with_done(gateway: ServerProcess) -> None:
    body = {"model": "gpt-image-1", "stream": True, **IMAGE_OUT, "messages": [{"role": "user", "content": "x"}]}
    with httpx.stream("POST", gateway.url + "/openai/v1/chat/completions", json=body, timeout=30) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in resp.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"


def test_openrouter_provider_preferences(client: OpenAI) -> None:
    res = client.chat.completions.create(
        model=NANO, messages=[{"role": "user", "content": "a boat"}],
        extra_body={**IMAGE_OUT, "provider": {"order": ["vertex", "gemini"], "allow_fallbacks": False,
                                              "sort": {"by": "throughput"}, "max_price": {"request": 1},
                                              "require_parameters": True, "data_collection": "allow"}},
    )  # fmt: skip
    assert res.metadata["provider"] == "vertex"


def test_failover_in_chat(client: OpenAI, fleet: ThreadedFleet) -> None:
    fleet.call(fleet.fleet.states["gemini"].injector.force, "unavailable")
    res = client.chat.completions.create(
        model=NANO,
        messages=[{"role": "user", "content": "a tree"}],
        extra_body={**IMAGE_OUT, "provider": {"order": ["gemini", "vertex"]}},
    )
    attempts = res.metadata["attempts"]
    assert [(a["provider"], a["outcome"]) for a in attempts] == [("gemini", "Unavailable"), ("vertex", "success")]


@pytest.mark.parametrize(
    "body,param",
    [
        ({"messages": [{"role": "user", "content": "hi"}]}, "modalities"),
        ({**IMAGE_OUT, "modalities": ["text"], "messages": [{"role": "user", "content": "hi"}]}, "modalities"),
        ({**IMAGE_OUT, "model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}, "model"),
        ({**IMAGE_OUT, "messages": []}, "messages"),
        ({**IMAGE_OUT, "messages": [{"role": "assistant", "content": "hi"}]}, "messages"),
        ({**IMAGE_OUT, "image_config": {"image_size": "8K"}, "messages": [{"role": "user", "content": "x"}]},
         "image_config.image_size"),
        ({**IMAGE_OUT, "messages": [{"role": "user", "content": [
            {"type": "text", "text": "x"}, {"type": "image_url", "image_url": {"url": data_url(b"not an image")}}]}]},
         "messages[0].content[1].image_url"),
        ({**IMAGE_OUT, "messages": [{"role": "user", "content": [
            {"type": "text", "text": "x"}, {"type": "input_audio", "input_audio": {}}]}]},
         "messages[0].content[1].type"),
        ({**IMAGE_OUT, "messages": [{"role": "user", "content": [
            {"type": "text", "text": "x"}, {"type": "image_url", "image_url": {"url": "ftp://example.com/a.png"}}]}]},
         "messages[0].content[1].image_url"),
        ({**IMAGE_OUT, "provider": {"data_collection": "deny"}, "messages": [{"role": "user", "content": "x"}]},
         "provider"),
    ],
)  # fmt: skip
def test_bad_chat_input_is_a_400_naming_the_field(client: OpenAI, body: dict, param: str) -> None:
    body = {"model": NANO, **body}
    model, messages = body.pop("model"), body.pop("messages")
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=model, messages=messages, extra_body=body)
    assert info.value.body["param"] == param


def test_chat_request_is_in_the_request_log(client: OpenAI, gateway: ServerProcess) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model=NANO, messages=[{"role": "user", "content": "a logged owl"}], extra_body=IMAGE_OUT
    )
    res = raw.parse()
    request_id = raw.headers["x-imagegate-request-id"]
    assert res.id == "chatcmpl-" + request_id.removeprefix("req_")
    deadline = time.monotonic() + 20
    while True:
        with sqlite3.connect(gateway.data_dir / "imagegate.db") as db:
            row = db.execute("select status, provider, cost_micros, image_count from requests where id = ?",
                             (request_id,)).fetchone()  # fmt: skip
        if row is not None:
            break
        assert time.monotonic() < deadline, "the chat request was never logged"
        time.sleep(0.05)  # polling the background log writer
    assert row == (200, res.metadata["provider"], res.metadata["cost_micros"], 1)

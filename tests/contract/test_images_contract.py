"""Contract: the official openai SDK against a real ``imagegate serve`` process (placeholder provider)."""

from __future__ import annotations

import base64
import io

import httpx
import pytest
from openai import OpenAI
from PIL import Image

from tests.helpers_server import ServerProcess

MODEL = "gemini-3-pro-image-preview"


def png(width: int = 64, height: int = 64, color: tuple[int, int, int] = (10, 120, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format="PNG")
    return buf.getvalue()


def decode(b64: str) -> Image.Image:
    img = Image.open(io.BytesIO(base64.b64decode(b64)))
    img.load()
    return img


def test_generate_b64_json_png(client: OpenAI) -> None:
    res = client.images.generate(
        model=MODEL, prompt="A serene mountain landscape at sunset", size="1024x1024", response_format="b64_json"
    )
    assert len(res.data) == 1
    img = decode(res.data[0].b64_json)
    assert img.format == "PNG"
    assert img.size == (1024, 1024)
    meta = res.model_extra["metadata"]
    assert meta["model"] == MODEL
    assert meta["provider"] == "placeholder"
    assert meta["executed_model"].startswith("placeholder/")
    assert meta["cost_micros"] == 0 and meta["cost"] == 0 and meta["currency"] == "USD"
    assert meta["attempts"][0]["provider"] == "placeholder"
    assert meta["attempts"][0]["outcome"] == "success"


def test_generate_is_deterministic(client: OpenAI) -> None:
    kwargs = dict(model=MODEL, prompt="same prompt", size="512x512", response_format="b64_json", extra_body={"seed": 7})
    a = client.images.generate(**kwargs)
    b = client.images.generate(**kwargs)
    assert a.data[0].b64_json == b.data[0].b64_json


def test_generate_url_is_served_and_unguessable(client: OpenAI, server) -> None:
    res = client.images.generate(model=MODEL, prompt="a lighthouse", size="1024x1024")
    url = res.data[0].url
    assert url and url.startswith(server.url + "/files/")
    token = url.rsplit("/", 1)[1].split(".")[0]
    assert len(token) >= 32
    got = httpx.get(url)
    assert got.status_code == 200
    assert got.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(got.content)).size == (1024, 1024)
    missing = httpx.get(server.url + "/files/" + "x" * 43 + ".png")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    "fmt,pil_name", [("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP"), ("gif", "GIF"), ("avif", "AVIF")]
)
def test_output_formats(client: OpenAI, fmt: str, pil_name: str) -> None:
    res = client.images.generate(
        model=MODEL,
        prompt="format test",
        size="256x256",
        response_format="b64_json",
        output_format=fmt if fmt in ("png", "jpeg", "webp") else None,
        extra_body=None if fmt in ("png", "jpeg", "webp") else {"output_format": fmt},
    )
    assert decode(res.data[0].b64_json).format == pil_name


def test_output_compression_changes_jpeg(client: OpenAI) -> None:
    hi = client.images.generate(
        model=MODEL,
        prompt="compress me",
        size="512x512",
        response_format="b64_json",
        output_format="jpeg",
        output_compression=95,
    )
    lo = client.images.generate(
        model=MODEL,
        prompt="compress me",
        size="512x512",
        response_format="b64_json",
        output_format="jpeg",
        output_compression=10,
    )
    assert len(lo.data[0].b64_json) < len(hi.data[0].b64_json)


def test_n_greater_than_one(client: OpenAI) -> None:
    res = client.images.generate(model=MODEL, prompt="three of them", n=3, size="256x256", response_format="b64_json")
    assert len(res.data) == 3
    for item in res.data:
        assert decode(item.b64_json).size == (256, 256)


def test_aspect_ratio_and_resolution(client: OpenAI) -> None:
    res = client.images.generate(
        model=MODEL, prompt="wide", response_format="b64_json", extra_body={"aspect_ratio": "16:9", "resolution": "1K"}
    )
    w, h = decode(res.data[0].b64_json).size
    assert w > h


def test_headers_name_provider_cost_and_request_id(client: OpenAI) -> None:
    raw = client.images.with_raw_response.generate(
        model=MODEL, prompt="headers", size="256x256", response_format="b64_json"
    )
    assert raw.headers["x-imagegate-provider"] == "placeholder"
    assert raw.headers["x-imagegate-request-id"].startswith("req_")
    assert raw.headers["x-imagegate-cost-micros"] == "0"
    body = raw.parse()
    assert body.model_extra["metadata"]["request_id"] == raw.headers["x-imagegate-request-id"]


def test_openai_prefix_works(server) -> None:
    c = OpenAI(base_url=server.url + "/openai/v1", api_key="x", max_retries=0)
    res = c.images.generate(model="nano-banana-pro", prompt="prefix", size="256x256", response_format="b64_json")
    assert res.model_extra["metadata"]["model"] == MODEL


def test_edit_one_image(client: OpenAI) -> None:
    res = client.images.edit(
        model=MODEL,
        image=("source.png", png(), "image/png"),
        prompt="Add a starry night sky",
        size="1024x1024",
        response_format="b64_json",
    )
    assert decode(res.data[0].b64_json).size == (1024, 1024)


def test_edit_several_images(client: OpenAI) -> None:
    images = [(f"in{i}.png", png(color=(i * 40, 0, 0)), "image/png") for i in range(3)]
    res = client.images.edit(model=MODEL, image=images, prompt="combine them", response_format="b64_json")
    assert len(res.data) == 1


def test_edit_with_mask(client: OpenAI) -> None:
    res = client.images.edit(
        model=MODEL,
        image=("a.png", png(64, 64), "image/png"),
        mask=("m.png", png(64, 64, (0, 0, 0)), "image/png"),
        prompt="fill the mask",
        response_format="b64_json",
    )
    assert len(res.data) == 1


def test_edit_url_response(client: OpenAI) -> None:
    res = client.images.edit(model=MODEL, image=("a.png", png(), "image/png"), prompt="to url")
    assert httpx.get(res.data[0].url).status_code == 200


def test_models_list_and_retrieve_by_alias(client: OpenAI) -> None:
    ids = [m.id for m in client.models.list().data]
    assert MODEL in ids
    for alias in ("gemini-3-pro-image", "nano-banana-pro", MODEL):
        m = client.models.retrieve(alias)
        assert m.id == MODEL
        assert m.object == "model"
        assert m.owned_by == "google"


def test_dry_run_generation(server) -> None:
    r = httpx.post(
        server.url + "/v1/images/generations?dryRun=true",
        json={"model": MODEL, "prompt": "estimate me", "size": "1024x1024"},
    )
    assert r.status_code == 200
    body = r.json()
    assert body["estimated"] is True
    assert body["model"] == MODEL
    assert body["currency"] == "USD"
    assert set(body) >= {"provider", "total_cost_micros", "components"}
    for comp in body["components"]:
        assert set(comp) == {"type", "metric", "quantity", "billable_quantity", "unit_price", "total_cost"}


def test_dry_run_edit_through_sdk(client: OpenAI) -> None:
    raw = client.images.with_raw_response.edit(
        model=MODEL, image=("a.png", png(), "image/png"), prompt="estimate edit", extra_query={"dryRun": "true"}
    )
    body = raw.http_response.json()
    assert body["estimated"] is True and body["model"] == MODEL


def test_served_worker_tunes_its_runtime(server: ServerProcess) -> None:
    assert "runtime tuning: allocator tuned, gc frozen" in server.output()

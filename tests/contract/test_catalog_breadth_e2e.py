"""The grown catalog end to end: ``imagegate serve`` in front of every fake, the openai SDK as the client.

Aliases users type, an ambiguous alias, ``GET /v1/models``, dropped and strict parameters, megapixel and per-image
prices, an offer without a published price, Imagen's ``:predict`` and GPT Image 1.5.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator

import httpx
import openai
import pytest
from openai import OpenAI
from PIL import Image

from imagegate.testing.fleet import Fleet, ThreadedFleet
from tests.helpers_fleet import running_fleet
from tests.helpers_server import ServerProcess


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedFleet]:
    with running_fleet(Fleet(workdir=tmp_path_factory.mktemp("fleet"))) as threaded:
        yield threaded


@pytest.fixture(scope="module")
def gateway(fleet: ThreadedFleet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(
        tmp_path_factory.mktemp("breadth") / "data", env={**fleet.fleet.env(), "IMAGEGATE_PLACEHOLDER": "off"}
    )
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def client(gateway: ServerProcess) -> OpenAI:
    return OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=60)


def dry_run(gateway: ServerProcess, **body) -> dict:
    resp = httpx.post(gateway.url + "/v1/images/generations?dryRun=true", json={"prompt": "a fox", **body}, timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_models_lists_the_catalog_with_tasks_and_a_price_from(client: OpenAI, gateway: ServerProcess) -> None:
    data = httpx.get(gateway.url + "/v1/models", timeout=10).json()["data"]
    by_id = {m["id"]: m for m in data}
    assert len(by_id) >= 20
    assert {"flux-1-schnell", "imagen-4.0-generate-001", "gpt-image-1.5", "seedream-4.0", "qwen-image-edit"} <= set(
        by_id
    )
    schnell = by_id["flux-1-schnell"]
    assert schnell["owned_by"] == "black forest labs" and schnell["tasks"] == ["text-to-image"]
    assert schnell["price_from"] == {"usd": 0.003, "micros": 3000, "provider": "fal", "per": "image (1K)"}
    assert by_id["qwen-image"]["price_from"] is None  # no offer has a published price
    assert by_id["flux-kontext-pro"]["tasks"] == ["text-to-image", "image-editing"]
    assert {m.id for m in client.models.list()} == set(by_id)  # the SDK reads the same list


@pytest.mark.parametrize(
    ("alias", "model_id"),
    [
        ("flux-schnell", "flux-1-schnell"),
        ("flux-dev", "flux-1-dev"),
        ("imagen-4", "imagen-4.0-generate-001"),
        ("seedream-4", "seedream-4.0"),
        ("gpt-image", "gpt-image-1"),
    ],
)
def test_aliases_users_type_resolve(gateway: ServerProcess, alias: str, model_id: str) -> None:
    assert dry_run(gateway, model=alias)["model"] == model_id


def test_an_ambiguous_alias_is_refused_with_the_candidates(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.images.generate(model="flux-kontext", prompt="a fox")
    err = info.value.body
    assert err["code"] == "AMBIGUOUS_MODEL" and err["param"] == "model"
    assert "'flux-kontext-max'" in err["message"] and "'flux-kontext-pro'" in err["message"]


def test_megapixel_price_and_a_dropped_parameter(client: OpenAI) -> None:
    raw = client.images.with_raw_response.generate(
        model="fal/flux-schnell",
        prompt="a red fox in snow",
        size="1024x1024",
        response_format="b64_json",
        quality="high",
        extra_body={"num_inference_steps": 4, "negative_prompt": "blurry"},
    )
    res = raw.parse()
    meta = res.model_extra["metadata"]
    assert meta["provider"] == "fal" and meta["cost_micros"] == 3000  # 1 MP x $0.003
    assert meta["dropped_params"] == [
        "'quality' is not a parameter of fal-ai/flux-1/schnell on fal.ai: dropped",
        "'negative_prompt' is not a parameter of fal-ai/flux-1/schnell on fal.ai: dropped",
    ]
    assert Image.open(io.BytesIO(base64.b64decode(res.data[0].b64_json))).size == (1024, 1024)


def test_strict_params_refuses_what_no_offer_takes(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.images.generate(
            model="flux-schnell", prompt="a fox", extra_body={"negative_prompt": "blurry", "strict_params": True}
        )
    assert info.value.body["param"] == "negative_prompt"
    assert "strict_params" in info.value.body["message"]
    with pytest.raises(openai.BadRequestError) as info:  # a value outside the model's limits
        client.images.generate(model="fal/flux-schnell", prompt="a fox", extra_body={"num_inference_steps": 99})
    assert info.value.body["param"] == "num_inference_steps"


def test_replicate_list_output_and_per_image_price(client: OpenAI) -> None:
    res = client.images.generate(
        model="replicate/flux-schnell", prompt="a fox", n=2, size="1024x1024", response_format="b64_json"
    )
    assert len(res.data) == 2
    assert res.model_extra["metadata"]["cost_micros"] == 6000  # 2 x $0.003


def test_an_offer_without_a_published_price(gateway: ServerProcess) -> None:
    body = dry_run(gateway, model="qwen-image")
    assert body["price_unknown"] is True and body["total_cost_micros"] is None
    assert "most expensive" in body["note"]
    # flux-2-pro: the priced fal offer goes first, the unpriced Replicate offer is the last resort
    assert dry_run(gateway, model="flux-2-pro")["provider"] == "fal"
    assert dry_run(gateway, model="replicate/flux-2-pro")["price_unknown"] is True


def test_imagen_through_predict(client: OpenAI) -> None:
    res = client.images.generate(
        model="gemini/imagen-4", prompt="a lighthouse", n=2, size="1792x1024", response_format="b64_json"
    )
    assert len(res.data) == 2
    assert res.model_extra["metadata"]["cost_micros"] == 80_000  # 2 x $0.04


def test_gpt_image_1_5_token_prices(client: OpenAI) -> None:
    res = client.images.generate(
        model="gpt-image-1.5", prompt="a fox", size="1024x1024", quality="high", response_format="b64_json"
    )
    meta = res.model_extra["metadata"]
    assert meta["provider"] == "openai"
    output = res.usage.output_tokens
    assert meta["cost_micros"] >= output * 32  # $32 per million output image tokens

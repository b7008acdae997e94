"""Dry runs price every catalog offer without credentials; the response's size is the pixels returned."""

from __future__ import annotations

import base64
import io

import httpx
from openai import OpenAI
from PIL import Image

from tests.contract.test_images_contract import MODEL


def test_a_dry_run_in_placeholder_mode_prices_every_catalog_offer(server) -> None:
    r = httpx.post(
        server.url + "/v1/images/generations?dryRun=true",
        json={"model": MODEL, "prompt": "estimate me", "size": "2048x2048"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["provider"] == "placeholder"  # what this gateway would run
    offers = {o["provider"]: o for o in body["offers"]}
    assert set(offers) == {"gemini", "vertex", "replicate", "fal"}
    for offer in offers.values():
        assert offer["active"] is False  # no key is set
        assert offer["currency"] == "USD"
        assert offer["total_cost_micros"] > 0, offer  # priced although not configured
        assert offer["components"]
    assert 134_000 <= offers["gemini"]["total_cost_micros"] < 140_000  # $0.134 per 2K image, plus the prompt


def test_a_dry_run_names_what_an_offer_cannot_do(server) -> None:
    r = httpx.post(
        server.url + "/v1/images/generations?dryRun=true",
        json={"model": "gpt-image-1", "prompt": "x", "size": "1024x1024", "n": 3},
    )
    assert r.status_code == 200, r.text
    assert all(("error" in o) != ("total_cost_micros" in o) for o in r.json()["offers"])


def test_forcing_an_unconfigured_provider_is_a_400_also_in_a_dry_run(server) -> None:
    r = httpx.post(server.url + "/v1/images/generations?dryRun=true", json={"model": "vertex/" + MODEL, "prompt": "x"})
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "model"


def test_the_size_reported_is_the_size_returned(client: OpenAI) -> None:
    res = client.images.generate(model=MODEL, prompt="x", size="4:5", response_format="b64_json")
    width, height = Image.open(io.BytesIO(base64.b64decode(res.data[0].b64_json))).size
    assert res.size == f"{width}x{height}"
    assert res.size != "4:5"

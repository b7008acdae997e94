"""Recordings outlive image URLs; the job codec round-trips requests; replay header parsing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from imagegate.core.errors import InvalidRequest
from imagegate.core.types import ImageRequest, InputImage, ProviderPreferences
from imagegate.jobs import codec
from imagegate.jobs.replay import ReplayOptions, parse_options
from imagegate.services import build_services
from imagegate.settings import Settings
from imagegate.store.db import utcnow


async def test_recordings_do_not_expire_with_image_urls(tmp_path: Path) -> None:
    services = await build_services(Settings(data_dir=tmp_path / "data", url_ttl_s=60))
    try:
        work = services.work
        assert work is not None
        request = ImageRequest(operation="generate", model="gemini-3-pro-image", prompt="kept", request_id="req_1")
        recorded = await work.executor.record(request, None)
        assert recorded.body["data"][0]["url"].startswith("http")
        # a month later every image URL has expired and been swept; the recording still replays its image
        assert await services.blobs.delete_expired(utcnow() + timedelta(days=30)) == 1
        rec = await work.executor.find(request, ReplayOptions(mode="replay-or-error"), None)
        assert rec is not None
        request.response_format = "b64_json"
        replayed = await work.executor.replay(request, rec)
        assert replayed.body["metadata"]["replayed"] is True and replayed.body["data"][0]["b64_json"]
        # deleting the recording expires its images: the next sweep removes their files
        assert work.recordings.delete("", rec.id)
        assert await services.blobs.delete_expired() == 1
        assert not [p for p in (tmp_path / "data" / "blobs").rglob("*") if p.is_file()]
    finally:
        await services.aclose()


def test_codec_round_trip_keeps_images_and_preferences() -> None:
    image = InputImage(data=b"\x89PNG-bytes", mime_type="image/png", width=2, height=3, filename="a.png")
    request = ImageRequest(
        operation="edit",
        model="m",
        prompt="p",
        n=2,
        images=[image],
        mask=image,
        extra={"k": [1, 2]},
        preferences=ProviderPreferences(order=["fal"], sort="price"),
        key_id="static-0",
        seed=7,
    )
    back = codec.load_request(codec.dump_request(request))
    assert back == request


def test_canonical_ignores_delivery_fields() -> None:
    a = ImageRequest(operation="generate", model="alias", prompt="p", response_format="url", user="x")
    b = ImageRequest(operation="generate", model="other-alias", prompt="p", response_format="b64_json", key_id="k")
    assert codec.canonical_hash(codec.canonical(a, "id")) == codec.canonical_hash(codec.canonical(b, "id"))
    b.seed = 1
    assert codec.canonical_hash(codec.canonical(a, "id")) != codec.canonical_hash(codec.canonical(b, "id"))


def test_replay_options() -> None:
    assert parse_options(None, None) == ReplayOptions()
    assert parse_options(None, None, "mock").mode == "mock"  # a key's (or the gateway's) default
    opts = parse_options("Replay-Or-Error", "fields: size, prompt")
    assert opts.fields == ("prompt", "size") and ReplayOptions.decode(opts.encode()) == opts
    pinned = parse_options("replay-or-mock", "id:rec_abc")
    assert ReplayOptions.decode(pinned.encode()) == pinned
    for mode, match in (("nope", None), ("mock", "id:"), ("mock", "fields:"), ("mock", "exact")):
        with pytest.raises(InvalidRequest):
            parse_options(mode, match)

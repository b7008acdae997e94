"""A provider that never answers is failed over even before the router has measured it (issue 9).

A real ``imagegate serve`` in front of a Gemini fake that never answers and a healthy Replicate fake, on a fleet
and a router both time-scaled 100x (``time_scaled_routing``, the 300 s deadline becomes 3 s): the cold Gemini offer
gets a time limit from its catalog prior (2 x the seed's p95 of 35.6 s, scaled: about 0.71 s), then Replicate
answers. Before the fix the single Gemini attempt spent the whole deadline and the request ended in a 502.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from openai import OpenAI

from imagegate.testing.faults import FaultProfile
from imagegate.testing.fleet import Fleet, ThreadedFleet
from imagegate.testing.profiles import time_scaled_routing
from tests.helpers_fleet import running_fleet, running_gateway
from tests.helpers_server import ServerProcess

MODEL = "gemini-3-pro-image-preview"
SCALE = 0.01


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedFleet]:
    profiles = {"gemini": FaultProfile(rates={"timeout": 1.0})}
    with running_fleet(Fleet(tmp_path_factory.mktemp("fleet"), ("gemini", "replicate"), profiles)) as threaded:
        yield threaded


@pytest.fixture(scope="module")
def gateway(fleet: ThreadedFleet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    work = tmp_path_factory.mktemp("cold")
    config: dict = {
        "request_timeout_s": 300.0 * SCALE,
        "routing": time_scaled_routing({}, SCALE),
        "providers": {"replicate": {"poll_scale": SCALE}},
    }
    path = Path(work / "config.yaml")
    path.write_text(yaml.safe_dump(config))
    with running_gateway(work / "data", {**fleet.fleet.env(), "IMAGEGATE_PLACEHOLDER": "off"}, path) as proc:
        yield proc


def test_a_cold_offer_that_never_answers_is_failed_over(gateway: ServerProcess) -> None:
    client = OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=30)
    res = client.images.generate(model=MODEL, prompt="a red fox", response_format="b64_json",
                                 extra_body={"provider": {"order": ["gemini", "replicate"]}})  # fmt: skip
    meta = res.model_extra["metadata"]
    assert meta["provider"] == "replicate"
    first, second = meta["attempts"]
    assert (first["provider"], first["outcome"], first["limit_hit"]) == ("gemini", "Timeout", "attempt_timeout")
    assert "attempt timeout" in first["error"]
    # 2 x the catalog's p95 (35.647 s), scaled: the limit the router gave the cold offer, not the 3 s deadline
    assert 2 * 35.647 * SCALE * 1000 <= first["latency_ms"] < 2 * 35.647 * SCALE * 1000 + 500
    assert (second["provider"], second["outcome"]) == ("replicate", "success")

"""Two gateway processes sharing routing state through the real Redis: a breaker opened by one is honoured by
the other."""

from __future__ import annotations

import secrets

import pytest
import redis
from openai import OpenAI

from imagegate.testing.fleet import Fleet, ThreadedFleet
from tests.helpers_server import ServerProcess

MODEL = "gemini-3-pro-image-preview"
PREFS = {"provider": {"only": ["gemini", "replicate"]}}


@pytest.fixture
def redis_prefix():
    prefix = "imagegate-test:" + secrets.token_hex(6)
    yield prefix
    r = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    for key in r.scan_iter(match=prefix + ":*"):
        r.delete(key)
    r.close()


def test_breaker_state_is_shared_between_gateways(tmp_path, redis_prefix: str) -> None:
    fleet = ThreadedFleet(Fleet(workdir=tmp_path / "fleet", providers=("gemini", "replicate")))
    fleet.start()
    config = tmp_path / "imagegate.yaml"
    config.write_text("routing:\n  breaker:\n    consecutive_failures: 2\n    cooldown_s: 600\n")
    env = {
        **fleet.fleet.env(),
        "IMAGEGATE_PLACEHOLDER": "off",
        "IMAGEGATE_REDIS_URL": "redis://127.0.0.1:6379/0",
        "IMAGEGATE_REDIS_PREFIX": redis_prefix,
    }
    a = ServerProcess(tmp_path / "a", env=env, config=config)
    b = ServerProcess(tmp_path / "b", env=env, config=config)
    try:
        a.wait_ready()
        b.wait_ready()
        gemini = fleet.fleet.states["gemini"]
        fleet.call(gemini.injector.force, *(["unavailable"] * 6))
        client_a = OpenAI(base_url=a.url + "/v1", api_key="x", max_retries=0)
        for _ in range(2):
            res = client_a.images.generate(
                model=MODEL, prompt="trip the breaker", response_format="b64_json", extra_body=PREFS
            )
            assert res.model_extra["metadata"]["provider"] == "replicate"
        fleet.call(gemini.injector.forced.clear)
        gemini_calls = len(gemini.calls("gemini"))

        client_b = OpenAI(base_url=b.url + "/v1", api_key="x", max_retries=0)
        res = client_b.images.generate(model=MODEL, prompt="b knows", response_format="b64_json", extra_body=PREFS)
        attempts = res.model_extra["metadata"]["attempts"]
        assert [x["provider"] for x in attempts] == ["replicate"]
        assert len(gemini.calls("gemini")) == gemini_calls
    finally:
        a.stop()
        b.stop()
        fleet.stop()

"""End to end: ``imagegate serve`` (a real process) in front of every provider's fake, driven by the openai SDK.

Each provider is forced by prefix; failover, content-policy refusals and total outages go through the router.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator

import openai
import pytest
from openai import OpenAI
from PIL import Image

from imagegate.testing.fleet import Fleet, ThreadedFleet
from tests.helpers_fleet import running_fleet, running_gateway
from tests.helpers_server import ServerProcess

MODEL = "gemini-3-pro-image-preview"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedFleet]:
    with running_fleet(Fleet(workdir=tmp_path_factory.mktemp("fleet"))) as threaded:
        yield threaded


@pytest.fixture(scope="module")
def gateway(fleet: ThreadedFleet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {**fleet.fleet.env(), "IMAGEGATE_PLACEHOLDER": "off"}
    with running_gateway(tmp_path_factory.mktemp("e2e") / "data", env) as proc:
        yield proc


@pytest.fixture
def client(gateway: ServerProcess, fleet: ThreadedFleet) -> Iterator[OpenAI]:
    yield OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=60)
    for state in fleet.fleet.states.values():  # no forced fault leaks into the next test
        fleet.call(state.injector.forced.clear)


def png(size: int = 64) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def size_of(b64: str) -> tuple[int, int]:
    return Image.open(io.BytesIO(base64.b64decode(b64))).size


def test_banner_lists_active_providers(gateway: ServerProcess) -> None:
    out = gateway.output()
    for name in ("gemini", "vertex", "replicate", "fal", "openai"):
        assert f"{name:<11} active" in out
    assert "placeholder inactive" in out
    for secret in ("AIza-fake", "r8_fake", "fal-fake-key", "sk-fake"):
        assert secret not in out


@pytest.mark.parametrize(
    "provider,min_cost,max_cost",
    [
        ("gemini", 134_400, 200_000),
        ("vertex", 134_400, 200_000),
        ("replicate", 150_000, 150_000),
        ("fal", 150_000, 150_000),
    ],
)
def test_generate_forced_provider(client: OpenAI, provider: str, min_cost: int, max_cost: int) -> None:
    raw = client.images.with_raw_response.generate(
        model=f"{provider}/{MODEL}", prompt="a red fox in snow", size="1024x1024", response_format="b64_json"
    )
    res = raw.parse()
    meta = res.model_extra["metadata"]
    assert meta["provider"] == provider
    assert raw.headers["x-imagegate-provider"] == provider
    assert meta["executed_model"].startswith(provider + "/")
    assert min_cost <= meta["cost_micros"] <= max_cost
    assert raw.headers["x-imagegate-cost-micros"] == str(meta["cost_micros"])
    assert size_of(res.data[0].b64_json) == (1024, 1024)
    assert [a["provider"] for a in meta["attempts"]] == [provider]


def test_gemini_usage_and_revised_prompt(client: OpenAI) -> None:
    res = client.images.generate(model=f"gemini/{MODEL}", prompt="a lighthouse", response_format="b64_json")
    assert res.usage is not None and res.usage.output_tokens >= 1120
    assert res.data[0].revised_prompt


@pytest.mark.parametrize("provider", ["gemini", "vertex", "replicate", "fal"])
def test_edit_forced_provider(client: OpenAI, provider: str) -> None:
    images = [("a.png", png(), "image/png"), ("b.png", png(32), "image/png")]
    res = client.images.edit(model=f"{provider}/{MODEL}", image=images, prompt="merge them", response_format="b64_json")
    assert res.model_extra["metadata"]["provider"] == provider
    assert res.data[0].b64_json


def test_fal_refuses_more_than_two_reference_images(client: OpenAI) -> None:
    images = [(f"{i}.png", png(), "image/png") for i in range(3)]
    with pytest.raises(openai.BadRequestError) as exc:
        client.images.edit(model=f"fal/{MODEL}", image=images, prompt="x")
    assert "at most 2" in exc.value.message


def test_openai_upstream_with_n(client: OpenAI) -> None:
    res = client.images.generate(
        model="openai/gpt-image-1", prompt="two cats", n=2, size="1024x1024", response_format="b64_json"
    )
    assert len(res.data) == 2
    assert res.model_extra["metadata"]["provider"] == "openai"
    assert res.model_extra["metadata"]["cost_micros"] > 0


def test_n_emulated_with_parallel_calls(client: OpenAI, fleet: ThreadedFleet) -> None:
    before = len(fleet.fleet.states["gemini"].calls("gemini"))
    res = client.images.generate(model=f"gemini/{MODEL}", prompt="three", n=3, response_format="b64_json")
    assert len(res.data) == 3
    assert len(fleet.fleet.states["gemini"].calls("gemini")) - before == 3


def test_url_response_from_a_real_provider(client: OpenAI) -> None:
    import httpx

    res = client.images.generate(model=f"replicate/{MODEL}", prompt="url please", size="1024x1024")
    got = httpx.get(res.data[0].url)
    assert got.status_code == 200 and Image.open(io.BytesIO(got.content)).size == (1024, 1024)


def test_failover_when_a_provider_is_down(client: OpenAI, fleet: ThreadedFleet) -> None:
    fleet.call(fleet.fleet.states["gemini"].injector.force, "unavailable", "unavailable", "unavailable")
    res = client.images.generate(
        model=MODEL,
        prompt="fail over",
        response_format="b64_json",
        extra_body={"provider": {"order": ["gemini", "replicate"], "only": ["gemini", "replicate"]}},
    )
    meta = res.model_extra["metadata"]
    assert meta["provider"] == "replicate"
    outcomes = [(a["provider"], a["outcome"]) for a in meta["attempts"]]
    assert outcomes[0] == ("gemini", "Unavailable")
    assert outcomes[-1] == ("replicate", "success")


def test_content_policy_is_not_failed_over(client: OpenAI, fleet: ThreadedFleet) -> None:
    fleet.call(fleet.fleet.states["fal"].injector.force, "content_policy")
    before = {name: fleet.fleet.generation_calls(name) for name in ("gemini", "vertex", "replicate")}
    with pytest.raises(openai.BadRequestError) as exc:
        client.images.generate(
            model=MODEL,
            prompt="something refused",
            extra_body={"provider": {"order": ["fal", "gemini", "vertex", "replicate"]}},
        )
    assert exc.value.body["code"] == "UPSTREAM_ERROR"
    assert {name: fleet.fleet.generation_calls(name) for name in before} == before


def test_all_providers_down_is_502_listing_attempts(client: OpenAI, fleet: ThreadedFleet) -> None:
    only = ["gemini", "replicate"]
    for name in only:
        fleet.call(fleet.fleet.states[name].injector.force, *(["server_error"] * 6))
    with pytest.raises(openai.InternalServerError) as exc:
        client.images.generate(model=MODEL, prompt="nobody home", extra_body={"provider": {"only": only}})
    assert exc.value.status_code == 502
    body = exc.value.body
    assert body["code"] == "ALL_PROVIDERS_EXHAUSTED"
    tried = {a["provider"] for a in body["attempts"]}
    assert tried == set(only)


def test_provider_figures_endpoint_cli_and_metrics(client: OpenAI, gateway: ServerProcess) -> None:
    import subprocess
    import sys

    import httpx

    for provider in ("gemini", "replicate"):
        client.images.generate(model=f"{provider}/{MODEL}", prompt="figures", response_format="b64_json")
    body = httpx.get(gateway.url + "/v1/models/nano-banana-pro/providers").json()
    assert body["model"] == MODEL and body["window_days"] == 30
    rows = {row["provider"]: row for row in body["data"]}
    assert set(rows) >= {"gemini", "vertex", "replicate", "fal"}
    gemini = rows["gemini"]
    assert gemini["config_key"] == "gemini/gemini-3-pro-image-preview"
    assert gemini["pricing"]["source_url"].startswith("https://ai.google.dev/")
    perf = gemini["performance"]
    assert perf["requests"] >= 1 and 0 < perf["success_rate"] <= 1
    assert perf["latency_p50_ms"] > 0 and perf["ttfb_p95_ms"] > 0
    assert rows["replicate"]["performance"]["successes"] >= 1

    out = subprocess.run(
        [sys.executable, "-m", "imagegate", "stats", MODEL, "--data-dir", str(gateway.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr
    assert "### gemini" in out.stdout and "Median Generation Time (p50):" in out.stdout

    metrics = httpx.get(gateway.url + "/metrics").text
    assert 'imagegate_requests_total{model="gemini-3-pro-image-preview",provider="gemini",status="200"}' in metrics
    assert "imagegate_attempt_duration_seconds_bucket" in metrics
    assert (
        'imagegate_attempts_total{model="gemini-3-pro-image-preview",outcome="Unavailable",provider="gemini"}'
        in metrics
    )


def test_the_response_size_is_the_pixels_gemini_returned(client: OpenAI) -> None:
    """Gemini renders 1536x1024 as 3:2 at 2K: 2528x1696 pixels, and the response says so (docs/sizes.md)."""
    res = client.images.generate(model="gemini/" + MODEL, prompt="x", size="1536x1024", response_format="b64_json")
    assert size_of(res.data[0].b64_json) == (2528, 1696)
    assert res.size == "2528x1696"


def test_stats_without_the_servers_credentials_reads_activity_from_the_log(client: OpenAI, gateway) -> None:
    import json
    import subprocess
    import sys

    client.images.generate(model=f"gemini/{MODEL}", prompt="stats", response_format="b64_json")

    def stats(*extra: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "imagegate", "stats", MODEL, "--data-dir", str(gateway.data_dir), *extra],
            capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        return out.stdout

    text = stats()
    assert "### gemini\n" in text  # no credentials here, but the log shows it served: not "(inactive)"
    assert "- Price: $" in text and "per 1M image tokens (output)" in text
    body = json.loads(stats("--json"))
    gemini = next(p for p in body["data"] if p["provider"] == "gemini")
    assert gemini["active"] is True
    for key, value in gemini["performance"].items():
        if isinstance(value, float):
            assert value == round(value, 4), (key, value)
            if key.endswith("_ms"):
                assert value == round(value, 1), (key, value)

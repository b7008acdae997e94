"""Contract: the official openai Node SDK (tests/js, exact version) consumes the gateway's streams unchanged."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from imagegate.testing.fleet import Fleet, ThreadedFleet
from tests.helpers_server import ServerProcess

JS = Path(__file__).resolve().parents[1] / "js"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    fleet = ThreadedFleet(Fleet(workdir=tmp_path_factory.mktemp("fleet"), providers=("gemini", "openai")))
    fleet.start()
    env = {**fleet.fleet.env(), "IMAGEGATE_PLACEHOLDER": "off"}
    proc = ServerProcess(tmp_path_factory.mktemp("node") / "data", env=env)
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()
        fleet.stop()


def test_node_sdk_streams_and_chat(gateway: ServerProcess) -> None:
    assert (JS / "node_modules" / "openai").is_dir(), "run: npm install --prefix tests/js --no-audit --no-fund"
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(buf, format="PNG")
    env = {**os.environ, "IMAGEGATE_URL": gateway.url, "IMAGEGATE_PNG_B64": base64.b64encode(buf.getvalue()).decode()}
    out = subprocess.run(["node", str(JS / "stream_images.mjs")], cwd=JS, env=env, capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    events = summary["generate"]
    assert [e["type"] for e in events] == [
        "image_generation.partial_image", "image_generation.partial_image", "image_generation.completed"
    ]  # fmt: skip
    assert [e["index"] for e in events[:2]] == [0, 1]
    assert all(e["size"] == "1024x1024" and e["bytes"] > 100 for e in events)
    assert events[-1]["usage"]["output_tokens"] == 1056 + 200 and events[-1]["provider"] == "openai"
    assert summary["edit"] == ["image_edit.partial_image", "image_edit.completed"]
    assert "lighthouse" in summary["chat"]["content"]
    assert summary["chat"]["images"] == ["data:image/png;base64,"]
    assert summary["error"] == {"status": 404, "name": "NotFoundError"}

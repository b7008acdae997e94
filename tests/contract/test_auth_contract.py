"""Contract: with a master key configured, requests need ``Authorization: Bearer``."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest
from openai import OpenAI

from tests.helpers_server import ServerProcess

MASTER = "ig-test-master-key-0123456789abcdef"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("secured") / "data", env={"IMAGEGATE_MASTER_KEY": MASTER})
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


def test_missing_key_is_401(secured: ServerProcess) -> None:
    r = httpx.post(secured.url + "/v1/images/generations", json={"model": "nano-banana-pro", "prompt": "x"})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "AUTHENTICATION_FAILED"


def test_wrong_key_raises_sdk_authentication_error(secured: ServerProcess) -> None:
    c = OpenAI(base_url=secured.url + "/v1", api_key="wrong-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        c.models.list()


def test_right_key_works_and_never_echoes_it(secured: ServerProcess) -> None:
    c = OpenAI(base_url=secured.url + "/v1", api_key=MASTER, max_retries=0)
    res = c.images.with_raw_response.generate(
        model="nano-banana-pro", prompt="x", size="256x256", response_format="b64_json"
    )
    assert res.status_code == 200
    assert MASTER not in res.http_response.text
    assert MASTER not in secured.output()


def test_health_needs_no_key(secured: ServerProcess) -> None:
    assert httpx.get(secured.url + "/health").status_code == 200


def test_banner_says_auth_and_providers(secured: ServerProcess) -> None:
    out = secured.output()
    assert "API keys required" in out
    assert "placeholder active" in out


def test_database_keys_created_by_cli(tmp_path) -> None:
    import subprocess
    import sys

    data_dir = tmp_path / "data"
    made = subprocess.run(
        [sys.executable, "-m", "imagegate", "keys", "create", "--name", "ci", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("ig-")
    db_bytes = b"".join(p.read_bytes() for p in data_dir.glob("imagegate.db*"))
    assert key.encode() not in db_bytes  # only the hash is stored
    listed = subprocess.run(
        [sys.executable, "-m", "imagegate", "keys", "list", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "ci" in listed.stdout and key not in listed.stdout

    proc = ServerProcess(data_dir)
    try:
        proc.wait_ready()
        ok = OpenAI(base_url=proc.url + "/v1", api_key=key, max_retries=0)
        assert ok.models.list().data
        bad = OpenAI(base_url=proc.url + "/v1", api_key="ig-not-a-real-key", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            bad.models.list()
    finally:
        proc.stop()

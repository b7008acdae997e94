"""Keys across processes (issue 9, issue 13): two real ``imagegate serve`` on one database. A key made on one (or by
``imagegate keys create``) works at once on both; a revoked key is refused by both within 1 s; no restart."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers_server import ServerProcess

MASTER = "ig-freshness-master-key-0123456789abcdef"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    data_dir = tmp_path_factory.mktemp("fresh") / "data"
    env = {"IMAGEGATE_MASTER_KEY": MASTER}
    a, b = ServerProcess(data_dir, env=env), ServerProcess(data_dir, env=env)
    try:
        a.wait_ready()
        b.wait_ready()
        yield a, b
    finally:
        a.stop()
        b.stop()


def status(server: ServerProcess, key: str) -> int:
    return httpx.get(server.url + "/v1/models", headers={"Authorization": f"Bearer {key}"}, timeout=10).status_code


def refused_within(server: ServerProcess, key: str, limit_s: float = 1.0) -> float:
    """Seconds until ``server`` refuses ``key`` (fails the test past ``limit_s``)."""
    start = time.monotonic()
    while status(server, key) != 401:
        assert time.monotonic() - start < limit_s, "the revoked key still works"
    return time.monotonic() - start


def test_admin_key_works_at_once_on_the_other_replica_and_revocation_reaches_it(pair) -> None:  # type: ignore[no-untyped-def]
    a, b = pair
    master = {"Authorization": f"Bearer {MASTER}"}
    made = httpx.post(a.url + "/v1/admin/keys", json={"name": "fresh"}, headers=master).json()
    key = made["key"]
    assert status(b, "ig-not-yet-a-key") == 401  # B has just refused a secret...
    assert status(b, key) == 200  # ...and knows the new key made on A at once
    assert status(a, key) == 200
    assert httpx.delete(f"{a.url}/v1/admin/keys/{made['id']}", headers=master).status_code == 200
    assert status(a, key) == 401  # the replica that revoked it: at once
    refused_within(b, key)


def test_cli_keys_work_without_restart(pair, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a, b = pair

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "imagegate", "keys", *args, "--data-dir", str(a.data_dir)],
            capture_output=True,
            text=True,
            timeout=60,
        )

    made = cli("create", "--name", "from-cli", "--budget-usd", "5", "--rpm", "100", "--model", "nano-banana-pro")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    key_id = made.stderr.split()[1]
    assert status(a, key) == 200 and status(b, key) == 200
    shown = cli("show", key_id)
    assert '"usd": 5.0' in shown.stdout and key not in shown.stdout
    updated = cli("update", key_id, "--rpm", "7", "--no-budget")
    assert '"requests_per_minute": 7' in updated.stdout and '"budget": null' in updated.stdout
    r = httpx.get(b.url + "/v1/models", headers={"Authorization": f"Bearer {key}"})
    deadline = time.monotonic() + 1.0
    while r.headers.get("x-ratelimit-limit-requests") != "7" and time.monotonic() < deadline:
        r = httpx.get(b.url + "/v1/models", headers={"Authorization": f"Bearer {key}"})
    assert r.headers["x-ratelimit-limit-requests"] == "7"  # the change reached B within 1 s
    bad = cli("update", key_id, "--model", "no-such-model")
    assert bad.returncode == 2 and "models" in bad.stderr
    assert cli("revoke", key_id).returncode == 0
    refused_within(a, key)
    refused_within(b, key)
    assert "from-cli" in cli("list").stdout
    for command in (("show",), ("revoke",), ("update", "--rpm", "1")):
        missing = cli(command[0], "key_no_such", *command[1:])
        assert missing.returncode == 1 and "no key key_no_such" in missing.stderr


def test_every_worker_of_one_server_knows_a_new_key_and_drops_a_revoked_one(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", env={"IMAGEGATE_MASTER_KEY": MASTER, "IMAGEGATE_WORKERS": "2"})
    try:
        server.wait_ready(60)
        master = {"Authorization": f"Bearer {MASTER}"}
        made = httpx.post(server.url + "/v1/admin/keys", json={"name": "w"}, headers=master).json()
        # new connections spread over both workers: the key works on each at once
        assert {status(server, made["key"]) for _ in range(20)} == {200}
        httpx.delete(f"{server.url}/v1/admin/keys/{made['id']}", headers=master)
        start = time.monotonic()
        while any(status(server, made["key"]) != 401 for _ in range(10)):
            assert time.monotonic() - start < 1.0, "a worker still accepts the revoked key"
    finally:
        server.stop()

"""``imagegate serve --host 0.0.0.0``: database keys count as keys, so the gateway serves other hosts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers_server import ServerProcess


def _create_key(data_dir: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "imagegate", "keys", "create", "--name", "t", "--data-dir", str(data_dir)],
        check=True,
        capture_output=True,
        timeout=60,
    )


def _serve_all_interfaces(data_dir: Path) -> ServerProcess:
    return ServerProcess(data_dir, extra_args=["--host", "0.0.0.0"])


def test_database_keys_let_the_gateway_bind_every_interface(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    _create_key(data_dir)
    proc = _serve_all_interfaces(data_dir)
    try:
        proc.wait_ready()
        out = proc.output()
    finally:
        proc.stop()
    assert "binds to 127.0.0.1" not in out
    assert f"listening on http://0.0.0.0:{proc.port}" in out
    assert "API keys required" in out


def test_without_any_key_it_binds_loopback_and_says_which_keys_count(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    proc = _serve_all_interfaces(data_dir)
    try:
        proc.wait_ready()
        out = proc.output()
    finally:
        proc.stop()
    assert "no master key, API keys or database keys are configured" in out
    assert "imagegate keys create" in out
    assert f"listening on http://127.0.0.1:{proc.port}" in out

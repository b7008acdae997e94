"""Settings: every layer is type-checked and a bad value names its key, its source and the type expected."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from imagegate.settings import PROVIDER_ENV, Settings, SettingsError, env_name


def test_the_historic_environment_variables_still_apply() -> None:
    env = {
        "IMAGEGATE_HOST": "0.0.0.0",
        "IMAGEGATE_PORT": "9001",
        "IMAGEGATE_DATA_DIR": "/tmp/x",
        "IMAGEGATE_URL_TTL": "60",
        "IMAGEGATE_REQUEST_TIMEOUT": "12.5",
        "IMAGEGATE_API_KEYS": "a, b,,c",
        "IMAGEGATE_LOG_PROMPTS": "yes",
        "IMAGEGATE_RUNTIME_TUNING": "off",
        "GEMINI_API_KEY": "g",
        "GOOGLE_APPLICATION_CREDENTIALS": "/k.json",
        "VERTEX_PROJECT": "p",
        "VERTEX_LOCATION": "europe-west4",
        "IMAGEGATE_FAL_BASE_URL": "http://127.0.0.1:1",
    }
    s = Settings.load(env=env)
    assert (s.host, s.port, s.data_dir, s.url_ttl_s, s.request_timeout_s) == ("0.0.0.0", 9001, Path("/tmp/x"), 60, 12.5)
    assert s.api_keys == ["a", "b", "c"] and s.log_prompts is True and s.runtime_tuning is False
    assert s.providers["gemini"].api_key == "g"
    vertex = s.providers["vertex"]
    assert (vertex.credentials_file, vertex.project, vertex.location) == ("/k.json", "p", "europe-west4")
    assert s.providers["fal"].base_url == "http://127.0.0.1:1"
    assert sorted(s.active_providers()) == ["gemini", "vertex"]
    assert set(s.providers) == set(PROVIDER_ENV)


def test_every_new_setting_has_its_env_var() -> None:
    assert env_name("metrics_public") == "IMAGEGATE_METRICS_PUBLIC"
    s = Settings.load(
        env={
            "IMAGEGATE_METRICS_PUBLIC": "true",
            "IMAGEGATE_HEADER_TIMEOUT_S": "2",
            "IMAGEGATE_BODY_TIMEOUT_S": "3",
            "IMAGEGATE_MAX_REQUEST_PIXELS": "1000",
            "IMAGEGATE_DECODE_CONCURRENCY": "4",
        }
    )
    assert (s.metrics_public, s.header_timeout_s, s.body_timeout_s, s.max_request_pixels, s.decode_concurrency) == (
        True,
        2.0,
        3.0,
        1000,
        4,
    )


def test_yaml_then_env_then_overrides(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("port: 1000\nmax_n: 3\nproviders:\n  replicate: {api_key: r, poll_scale: 0.5}\n")
    s = Settings.load(cfg, env={"IMAGEGATE_PORT": "2000"}, port=3000)
    assert s.port == 3000 and s.max_n == 3
    assert s.providers["replicate"].active and s.providers["replicate"].poll_scale == 0.5
    assert Settings.load(cfg, env={"IMAGEGATE_PORT": "2000"}).port == 2000


@pytest.mark.parametrize(
    "env,key,where,expected",
    [
        ({"IMAGEGATE_PORT": "eighty"}, "port", "IMAGEGATE_PORT", "integer"),
        ({"IMAGEGATE_LOG_PROMPTS": "maybe"}, "log_prompts", "IMAGEGATE_LOG_PROMPTS", "boolean"),
        ({"IMAGEGATE_REQUEST_TIMEOUT": "soon"}, "request_timeout_s", "IMAGEGATE_REQUEST_TIMEOUT", "number"),
        ({"IMAGEGATE_WORKERS": "0"}, "workers", "IMAGEGATE_WORKERS", "greater than or equal to 1"),
    ],
)
def test_a_bad_env_value_names_the_key_the_variable_and_the_type(env, key, where, expected) -> None:
    with pytest.raises(SettingsError) as exc:
        Settings.load(env=env)
    message = str(exc.value)
    assert f"'{key}'" in message and where in message and expected in message


def test_a_bad_yaml_value_names_the_file_and_key(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("max_upload_bytes: lots\nnot_a_setting: 1\nproviders:\n  gemini: {read_timeout_s: [1]}\n")
    with pytest.raises(SettingsError) as exc:
        Settings.load(cfg, env={})
    message = str(exc.value)
    assert "'max_upload_bytes'" in message and str(cfg) in message and "integer" in message
    assert "'not_a_setting'" in message and "unknown setting" in message
    assert "'providers.gemini.read_timeout_s'" in message and "number" in message


def test_a_bad_secret_is_not_echoed(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("master_key: [sk-very-secret]\nproviders:\n  fal: {api_key: [fal-secret]}\n")
    with pytest.raises(SettingsError) as exc:
        Settings.load(cfg, env={})
    assert "'master_key'" in str(exc.value) and "'providers.fal.api_key'" in str(exc.value)
    assert "sk-very-secret" not in str(exc.value) and "fal-secret" not in str(exc.value)


def test_assignments_are_checked_too() -> None:
    s = Settings()
    s.host = "0.0.0.0"
    with pytest.raises(ValueError):
        s.port = "x"  # type: ignore[assignment]


def test_the_cli_reports_a_bad_setting_in_one_line(tmp_path: Path) -> None:
    env = {"IMAGEGATE_PORT": "eighty", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "imagegate", "models"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "IMAGEGATE_PORT" in proc.stderr and "integer" in proc.stderr

"""Redaction by the configured secret values (issue 9): a FAL key in its real ``key_id:key_secret`` form, echoed by a
misbehaving upstream, reaches neither the client, nor ``requests.error_message`` / ``attempts.error``, nor the log.
A real gateway with a master key, in front of a fal fake that echoes the caller's key in its error details."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from openai import OpenAI

from imagegate.core.redaction import Redactor
from imagegate.testing.fleet import Fleet, ThreadedFleet
from tests.helpers_fleet import logged_requests, running_fleet, running_gateway, sqlite_url
from tests.helpers_server import ServerProcess

MODEL = "gemini-3-pro-image-preview"
FAL_KEY = "0f3c9a1e-77b2-4c1d-9e0a-5b6c7d8e9f01:4d2a7c9e1b3f5a6c8e0d2b4f6a8c0e1d"  # fal's real key shape
MASTER = "master-7Gq2xLp9Rt4vWz8K"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedFleet]:
    fleet = Fleet(workdir=tmp_path_factory.mktemp("fleet"), providers=("fal",))
    with running_fleet(fleet) as threaded:
        state = fleet.states["fal"]
        state.key, state.echo_key = FAL_KEY, True  # type: ignore[attr-defined]
        yield threaded


@pytest.fixture(scope="module")
def gateway(fleet: ThreadedFleet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {**fleet.fleet.env(), "FAL_KEY": FAL_KEY, "IMAGEGATE_PLACEHOLDER": "off", "IMAGEGATE_MASTER_KEY": MASTER}
    with running_gateway(tmp_path_factory.mktemp("redact") / "data", env) as proc:
        yield proc


def test_an_echoed_fal_key_is_redacted_everywhere(gateway: ServerProcess) -> None:
    client = OpenAI(base_url=gateway.url + "/v1", api_key=MASTER, max_retries=0, timeout=30)
    with pytest.raises(openai.APIStatusError) as exc:
        client.images.generate(model=f"fal/{MODEL}", prompt="a fox")
    body = str(exc.value.body) + exc.value.message
    assert "credentials=[redacted]" in body
    secret_id, secret = FAL_KEY.split(":")
    logged = logged_requests(sqlite_url(gateway))
    stored = " ".join(
        [r.error_message or "" for r, _ in logged] + [a.error or "" for _, tried in logged for a in tried]
    )
    assert logged and logged[0][1] and "[redacted]" in stored
    for text in (body, stored, gateway.output()):
        assert FAL_KEY not in text and secret not in text and secret_id not in text and MASTER not in text


def test_compound_and_pem_secrets_are_redacted_by_value_and_by_part() -> None:
    r = Redactor()
    pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n"
    pem += "-----END PRIVATE KEY-----\n"
    r.register([FAL_KEY, pem, "short", None])
    assert r.redact(f"key={FAL_KEY}!") == "key=[redacted]!"
    assert r.redact("only the secret 4d2a7c9e1b3f5a6c8e0d2b4f6a8c0e1d") == "only the secret [redacted]"
    assert r.redact("line MIIEvQIBADANBgkqhkiG9w0BAQEFAASC of a key") == "line [redacted] of a key"
    assert r.redact("a short word") == "a short word"  # values under 8 characters are not registered


def test_every_configured_credential_is_registered(tmp_path) -> None:
    """Provider keys, the Vertex service account's private key (from its file), master and API keys."""
    import json

    from imagegate.services import configured_secrets
    from imagegate.settings import Settings

    pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEA\n-----END PRIVATE KEY-----\n"
    creds = tmp_path / "sa.json"
    creds.write_text(json.dumps({"private_key": pem, "private_key_id": "0123456789abcdef0123"}))
    env = {"FAL_KEY": FAL_KEY, "GOOGLE_APPLICATION_CREDENTIALS": str(creds), "IMAGEGATE_MASTER_KEY": MASTER,
           "IMAGEGATE_API_KEYS": "client-key-0001,client-key-0002", "GEMINI_API_KEY": "gemini-key-abcdef"}  # fmt: skip
    secrets = configured_secrets(Settings.load(env=env))
    for value in (FAL_KEY, pem, "0123456789abcdef0123", MASTER, "client-key-0001", "client-key-0002",
                  "gemini-key-abcdef"):  # fmt: skip
        assert value in secrets
    r = Redactor()
    r.register(secrets)
    assert r.redact("bad key line MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEA") == "bad key line [redacted]"

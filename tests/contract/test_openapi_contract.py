"""GET /openapi.json documents every public endpoint; real responses match its schemas; schemathesis finds no 5xx."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from PIL import Image
from starlette.routing import Route

from imagegate.api.app import create_app
from imagegate.settings import Settings
from tests.contract.test_images_contract import MODEL


@pytest.fixture(scope="module")
def doc(server) -> dict[str, Any]:
    r = httpx.get(server.url + "/openapi.json")
    assert r.status_code == 200
    return r.json()


def check(doc: dict[str, Any], schema_name: str, body: Any) -> None:
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": doc["components"]}
    errors = sorted(Draft202012Validator(schema).iter_errors(body), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]


def png(w: int = 64, h: int = 64) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (10, 200, 30)).save(buf, format="PNG")
    return buf.getvalue()


def test_every_route_of_the_app_is_documented(doc) -> None:
    assert doc["openapi"] == "3.1.0"
    app = create_app(Settings())
    for route in app.routes:
        assert isinstance(route, Route)
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        assert path in doc["paths"], path
        for method in route.methods or ():
            if method != "HEAD":
                assert method.lower() in doc["paths"][path], (path, method)


def test_real_responses_match_the_documented_schemas(server, doc) -> None:
    url = server.url
    gen = httpx.post(
        url + "/v1/images/generations", json={"model": MODEL, "prompt": "x", "size": "256x256"}, timeout=30
    )
    assert gen.status_code == 200
    check(doc, "ImagesResponse", gen.json())
    b64 = httpx.post(
        url + "/openai/v1/images/generations",
        json={"model": MODEL, "prompt": "x", "n": 2, "response_format": "b64_json"},
        timeout=30,
    )
    check(doc, "ImagesResponse", b64.json())
    dry = httpx.post(url + "/v1/images/generations?dryRun=true", json={"model": MODEL, "prompt": "x"})
    check(doc, "DryRunResponse", dry.json())
    edit = httpx.post(
        url + "/v1/images/edits",
        data={"model": MODEL, "prompt": "x", "response_format": "b64_json"},
        files=[("image[]", ("a.png", png(), "image/png")), ("image[]", ("b.png", png(), "image/png"))],
        timeout=30,
    )
    assert edit.status_code == 200
    check(doc, "ImagesResponse", edit.json())
    check(doc, "ModelList", httpx.get(url + "/v1/models").json())
    check(doc, "Model", httpx.get(url + "/v1/models/nano-banana-pro").json())
    check(doc, "ModelProviders", httpx.get(url + f"/v1/models/{MODEL}/providers").json())
    check(doc, "Health", httpx.get(url + "/health").json())
    for bad in (
        httpx.post(url + "/v1/images/generations", json={"model": MODEL}),
        httpx.get(url + "/v1/models/no-such-model"),
        httpx.get(url + "/v1/models/x/providers?days=0"),
        httpx.get(url + "/files/nope.png"),
        httpx.get(url + "/no/such/path"),
    ):
        assert 400 <= bad.status_code < 500
        check(doc, "Error", bad.json())


def test_schemathesis_finds_no_server_error(server, tmp_path: Path) -> None:
    """Property-based requests from the document, against the live gateway: no answer is a 5xx, and every answer
    matches the documented status codes and schemas."""
    proc = subprocess.run(
        [
            str(Path(sys.executable).with_name("schemathesis")),
            "run",
            server.url + "/openapi.json",
            "--checks",
            "not_a_server_error,status_code_conformance,response_schema_conformance",
            "--max-examples",
            "15",
            "--seed",
            "1",
            "--workers",
            "1",  # one: hypothesis parses lambdas with ast, which races across threads on CPython 3.11
            "--phases",
            "examples,coverage,fuzzing",
            "--generation-deterministic",
            "--request-timeout",
            "30",
            "--max-time",
            "20",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,  # its cache directory goes there
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]

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


API_ROOTS = ("/health", "/metrics", "/openapi.json")
API_PREFIXES = ("/v1/", "/openai/v1/", "/files/")
# the web pages (HTML and markdown), not API endpoints: excluded by name, so a new API route cannot slip past
WEB_PAGES = re.compile(
    r"^/(index\.md|usage(\.md)?|llms\.txt|models(\.md|/.*)?|arena(\.md|/.*)?|playground(\.md|/.*)?|gallery(\.md|/.*)?)?$"
)


def test_every_route_of_the_app_is_documented(doc) -> None:
    assert doc["openapi"] == "3.1.0"
    app = create_app(Settings())
    checked = 0
    for route in app.routes:
        if not isinstance(route, Route):  # the /static Mount
            continue
        if route.path not in API_ROOTS and not route.path.startswith(API_PREFIXES):
            assert WEB_PAGES.match(route.path), f"{route.path}: neither an API route nor a known web page"
            continue
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        assert path in doc["paths"], path
        for method in route.methods or ():
            if method != "HEAD":
                assert method.lower() in doc["paths"][path], (path, method)
                checked += 1
    assert checked >= 80, checked  # every API route under both prefixes, the admin routes and the root ones
    served = {
        (re.sub(r"\{(\w+):\w+\}", r"{\1}", r.path), m.lower())
        for r in app.routes
        if isinstance(r, Route)
        for m in r.methods or ()
    }
    for path, item in doc["paths"].items():  # and nothing documented that the app does not serve
        for method in item:
            assert (path, method) in served, (path, method)


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

    chat = httpx.post(
        url + "/v1/chat/completions",
        json={"model": MODEL, "modalities": ["image", "text"], "messages": [{"role": "user", "content": "a fox"}]},
        timeout=30,
    )
    assert chat.status_code == 200, chat.text
    check(doc, "ChatCompletion", chat.json())
    for path, schema in (
        ("/v1/arena/competitions", "ArenaCompetitionList"),
        ("/openai/v1/arena/competitions?task=image-editing", "ArenaCompetitionList"),
        ("/v1/arena/categories", "ArenaCategoryList"),
        ("/v1/arena/leaderboard?task=text-to-image", "ArenaLeaderboard"),
        ("/v1/balance", "Balance"),
        ("/v1/recordings", "RecordingList"),
        ("/v1/batches", "BatchList"),
        ("/v1/files", "FileList"),
        ("/v1/gallery", "GalleryList"),
        ("/v1/webhooks/secret", "WebhookSecret"),
    ):
        r = httpx.get(url + path, timeout=30)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
        check(doc, schema, r.json())
    upload = httpx.post(
        url + "/v1/files",
        data={"purpose": "batch"},
        files={"file": ("in.jsonl", b'{"custom_id": "a", "method": "POST", "url": "/v1/images/generations", '
                        b'"body": {"model": "' + MODEL.encode() + b'", "prompt": "x"}}\n', "application/jsonl")},
    )  # fmt: skip
    assert upload.status_code == 200, upload.text
    check(doc, "File", upload.json())
    file_id = upload.json()["id"]
    check(doc, "File", httpx.get(url + f"/v1/files/{file_id}").json())
    batch = httpx.post(
        url + "/v1/batches",
        json={"input_file_id": file_id, "endpoint": "/v1/images/generations", "completion_window": "24h"},
    )
    assert batch.status_code == 200, batch.text
    check(doc, "Batch", batch.json())
    check(doc, "Batch", httpx.get(url + f"/v1/batches/{batch.json()['id']}").json())
    check(doc, "BatchList", httpx.get(url + "/v1/batches").json())
    for bad in (
        httpx.post(url + "/v1/images/generations", json={"model": MODEL}),
        httpx.post(url + "/v1/chat/completions", json={"model": MODEL, "messages": []}),
        httpx.get(url + "/v1/arena/leaderboard?task=video"),
        httpx.get(url + "/v1/batches/batch_nope"),
        httpx.get(url + "/v1/jobs/job_nope"),
        httpx.delete(url + "/v1/recordings/rec_nope"),
        httpx.get(url + "/v1/gallery?limit=0"),
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


@pytest.mark.parametrize(
    "path,body,param",
    [
        ("/v1/batches", {"endpoint": {}, "input_file_id": "x", "completion_window": "24h"}, "endpoint"),
        ("/v1/arena/battles/nope/vote", {"winner": {}}, "winner"),
        ("/v1/arena/battles", {"task": {}}, "task"),
    ],
)
def test_non_string_enums_are_a_400_not_a_500(server, path: str, body: dict, param: str) -> None:
    r = httpx.post(server.url + path, json=body, timeout=30)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param

"""The API's fixed paths skip Starlette's middleware stack (``api/direct.py``) and still answer as through it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from imagegate.api.app import create_app
from imagegate.api.direct import GatewayApp
from imagegate.settings import Settings

BODY = {"model": "gemini-3-pro-image-preview", "prompt": "a lighthouse at dusk", "response_format": "b64_json"}


@pytest.fixture
def app(tmp_path: Path) -> GatewayApp:
    app = create_app(Settings.load(env={}, data_dir=tmp_path / "data"))
    assert isinstance(app, GatewayApp)
    return app


@pytest.fixture
def stacked(app: GatewayApp) -> Iterator[tuple[TestClient, list[str]]]:
    """A client, and the paths of the requests that went through Starlette's middleware stack."""
    with TestClient(app) as client:
        through_stack: list[str] = []
        inner = app.middleware_stack
        assert inner is not None  # built for the lifespan

        async def counting(scope: Any, receive: Any, send: Any) -> None:
            through_stack.append(scope["path"])
            await inner(scope, receive, send)

        app.middleware_stack = counting
        yield client, through_stack


def test_only_the_apis_fixed_paths_are_dispatched_directly(app: GatewayApp) -> None:
    for prefix in ("/v1", "/openai/v1"):
        for method, path in (("POST", "/images/generations"), ("POST", "/images/edits"),
                             ("POST", "/chat/completions"), ("GET", "/models"), ("HEAD", "/models")):  # fmt: skip
            assert (method, prefix + path) in app.direct
    assert ("GET", "/v1/admin/keys") in app.direct
    assert ("GET", "/v1/images/generations") not in app.direct  # a wrong method: Starlette's 405
    assert not [path for _, path in app.direct if "{" in path]  # path parameters: Starlette's router
    assert not [path for _, path in app.direct if not path.startswith("/v1/") and not path.startswith("/openai/v1/")]


def test_a_generation_skips_the_stack_and_answers_in_full(stacked: tuple[TestClient, list[str]]) -> None:
    client, through_stack = stacked
    r = client.post("/v1/images/generations", json=BODY)
    assert r.status_code == 200, r.text
    assert r.headers["x-imagegate-request-id"].startswith("req_")
    assert int(r.headers["x-imagegate-cost-micros"]) >= 0
    assert r.json()["data"][0]["b64_json"]
    assert through_stack == []
    r = client.get("/v1/models/gemini-3-pro-image-preview")  # a path parameter: through the stack
    assert r.status_code == 200
    assert through_stack == ["/v1/models/gemini-3-pro-image-preview"]


def test_errors_on_the_direct_path_keep_the_error_shape(stacked: tuple[TestClient, list[str]]) -> None:
    client, through_stack = stacked
    r = client.post("/v1/images/generations", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "INVALID_REQUEST"
    assert r.headers["x-imagegate-request-id"].startswith("req_")
    r = client.get("/v1/images/generations")
    assert r.status_code == 405
    assert r.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert through_stack == ["/v1/images/generations"]  # only the 405


def test_an_unexpected_error_is_a_500_in_the_error_shape_and_reaches_the_server(
    app: GatewayApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as client:
        monkeypatch.setattr(app.state.services.gateway, "run", boom)
        r = client.post("/v1/images/generations", json=BODY)
        assert r.status_code == 500
        assert r.json()["error"]["code"] == "INTERNAL_ERROR"
        assert "a bug" not in r.text
        assert r.headers["x-imagegate-request-id"].startswith("req_")
    with TestClient(app) as client:  # raised on, as Starlette's server-error middleware does: the server logs it
        monkeypatch.setattr(app.state.services.gateway, "run", boom)
        with pytest.raises(RuntimeError, match="a bug"):
            client.post("/v1/images/generations", json=BODY)

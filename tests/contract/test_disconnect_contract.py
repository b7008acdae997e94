"""A client that disconnects (issue 9): mid-generation it is logged as 499 (not 200) and its provider call is
cancelled; while sending its body it costs one log line, not a traceback. A real gateway and Gemini fake."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from imagegate.testing.fleet import Fleet, ThreadedFleet
from tests.helpers_fleet import logged_requests, running_fleet, running_gateway, sqlite_url
from tests.helpers_server import ServerProcess

MODEL = "gemini-3-pro-image-preview"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedFleet]:
    with running_fleet(Fleet(workdir=tmp_path_factory.mktemp("fleet"), providers=("gemini",))) as threaded:
        yield threaded


@pytest.fixture(scope="module")
def gateway(fleet: ThreadedFleet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {**fleet.fleet.env(), "IMAGEGATE_PLACEHOLDER": "off"}
    with running_gateway(tmp_path_factory.mktemp("gone") / "data", env) as proc:
        yield proc


def test_disconnect_mid_generation_is_logged_as_499(gateway: ServerProcess, fleet: ThreadedFleet) -> None:
    state = fleet.fleet.states["gemini"]
    fleet.call(state.injector.force, "timeout")  # the fake holds the call until the client gives up
    try:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(gateway.url + "/v1/images/generations", json={"model": MODEL, "prompt": "a fox"}, timeout=1.0)
        [(row, attempts)] = logged_requests(sqlite_url(gateway))
    finally:
        fleet.call(state.injector.forced.clear)
    assert (row.status, row.error_class, row.provider) == (499, "CLIENT_DISCONNECTED", None)
    assert [(a.provider, a.outcome, a.possibly_billed) for a in attempts] == [("gemini", "cancelled", True)]
    assert "Traceback" not in gateway.output()


def test_disconnect_while_sending_the_body_is_one_line(gateway: ServerProcess) -> None:
    before = gateway.output().count("\n")
    with socket.create_connection(("127.0.0.1", gateway.port)) as sock:
        sock.sendall(b"POST /v1/images/generations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n{\"model\": \"x\"")  # fmt: skip
        time.sleep(0.2)  # let the server start reading the body before the client goes (ordering, not timing)
    deadline = time.monotonic() + 10
    while "while sending its body" not in gateway.output() and time.monotonic() < deadline:
        time.sleep(0.05)  # polling for the log line
    new = gateway.output().splitlines()[before:]
    assert [line for line in new if "disconnected" in line] and len(new) <= 2, new
    assert "Traceback" not in "\n".join(new)


def test_disconnect_after_longer_than_the_body_timeout_is_still_seen(
    fleet: ThreadedFleet, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """``body_timeout_s`` limits the wait for the body only: a generation that takes longer still notices the
    client leaving (its watcher's wait is not timed out), so the provider call is cancelled and logged as 499."""
    env = {**fleet.fleet.env(), "IMAGEGATE_PLACEHOLDER": "off", "IMAGEGATE_BODY_TIMEOUT_S": "0.3"}
    state = fleet.fleet.states["gemini"]
    with running_gateway(tmp_path_factory.mktemp("gone-late") / "data", env) as gateway:
        fleet.call(state.injector.force, "timeout")  # held until the client gives up, past the body timeout
        try:
            with pytest.raises(httpx.ReadTimeout):
                httpx.post(gateway.url + "/v1/images/generations", json={"model": MODEL, "prompt": "a fox"},
                           timeout=1.5)  # fmt: skip
            [(row, attempts)] = logged_requests(sqlite_url(gateway))
        finally:
            fleet.call(state.injector.forced.clear)
    assert (row.status, row.error_class) == (499, "CLIENT_DISCONNECTED")
    assert [(a.provider, a.outcome) for a in attempts] == [("gemini", "cancelled")]

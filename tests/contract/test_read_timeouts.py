"""Slowloris: a client that sends half a header or half a body loses its connection after the read timeouts."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import orjson
import pytest

from tests.helpers_server import ServerProcess


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(
        tmp_path_factory.mktemp("slowloris") / "data",
        env={"IMAGEGATE_HEADER_TIMEOUT_S": "0.5", "IMAGEGATE_BODY_TIMEOUT_S": "0.5"},
    )
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes; the socket's own timeout (10 s) fails a server that never does."""
    sock.settimeout(10)
    out = b""
    while chunk := sock.recv(65536):
        out += chunk
    return out


def _connect(server: ServerProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def test_half_a_header_is_cut_off_with_a_408(slow_server: ServerProcess) -> None:
    with _connect(slow_server) as sock:
        sock.sendall(b"POST /v1/images/generations HTTP/1.1\r\nHost: x\r\nContent-Ty")
        reply = _read_until_closed(sock)
    assert reply.startswith(b"HTTP/1.1 408"), reply


def test_a_silent_connection_is_closed(slow_server: ServerProcess) -> None:
    with _connect(slow_server) as sock:
        _read_until_closed(sock)  # returns only because the server closed it


def test_half_a_body_gets_a_408_in_the_error_shape_and_the_connection_closes(slow_server: ServerProcess) -> None:
    with _connect(slow_server) as sock:
        sock.sendall(
            b"POST /v1/images/generations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 200\r\n\r\n" + b'{"model": "gemini-3-pro-image-preview", '
        )
        reply = _read_until_closed(sock)
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), reply
    assert b"connection: close" in head.lower()
    error = orjson.loads(body)["error"]
    assert error["code"] == "REQUEST_TIMEOUT"
    assert "body_timeout_s" in error["message"]


def test_the_server_still_answers_after_the_slow_clients(slow_server: ServerProcess) -> None:
    with _connect(slow_server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert _read_until_closed(sock).startswith(b"HTTP/1.1 200")

"""providers/h1: the lean HTTP/1.1 client, over real loopback sockets.

aiohttp test servers where the HTTP can be ordinary; a raw ``asyncio.start_server`` handler writing bytes where the
test needs byte-exact control (a stale keep-alive close, a body cut short, garbage, 100 Continue)."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import random
import socket
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from imagegate.core.errors import BadResponse, Timeout, Unavailable
from imagegate.providers.h1 import (
    DIRECT_READ_MIN,
    MAX_REDIRECTS,
    BodyCutShort,
    BodyTooLarge,
    H1Answer,
    H1Pool,
    Origin,
    ReadTimeout,
    Resolver,
    ServerDisconnected,
    request_head,
    split_url,
)
from imagegate.providers.http import HttpTimeouts, UpstreamClient
from tests.helpers_tls import self_signed_cert

CAP = 64 * 1024 * 1024


def payload(n: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


# --- raw servers -------------------------------------------------------------------------------------------------

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


class RawServer:
    """``asyncio.start_server`` with a handler told the index of its connection (0, 1, ...)."""

    def __init__(self, handler: Handler, tls: ssl.SSLContext | None = None) -> None:
        self._handler = handler
        self._tls = tls
        self.connections = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self._tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        index = self.connections
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        try:
            await self._handler(reader, writer, index)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the client went away, or the test is over
        finally:
            writer.close()
            self._tasks.discard(task)  # type: ignore[arg-type]


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes] | None:
    """``(head, body)`` of the next request, ``None`` at the end of the connection."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return head, body


def answer(body: bytes, status: str = "200 OK", extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 " + status.encode() + b"\r\nContent-Length: %d\r\n" % len(body) + extra + b"\r\n" + body


async def answer_each(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, body: bytes) -> None:
    while await read_request(reader) is not None:
        writer.write(answer(body))
        await writer.drain()


def replies(data: bytes) -> Handler:
    """A handler that reads one request, writes ``data`` and closes the connection."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, index: int) -> None:
        await read_request(reader)
        writer.write(data)
        await writer.drain()

    return handler


async def serve_forever(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, index: int) -> None:
    await answer_each(reader, writer, b"ok")


# --- aiohttp servers ---------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def app_server(routes: list[web.RouteDef], tls: ssl.SSLContext | None = None) -> AsyncIterator[TestServer]:
    app = web.Application()
    app.add_routes(routes)
    server = TestServer(app, host="127.0.0.1", scheme="https" if tls else "http")
    await server.start_server(ssl=tls)
    try:
        yield server
    finally:
        await server.close()


async def send_chunked(request: web.Request, parts: list[bytes]) -> web.StreamResponse:
    """An answer in ``Transfer-Encoding: chunked``, one chunk per part."""
    resp = web.StreamResponse()
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    for part in parts:
        await resp.write(part)
    await resp.write_eof()
    return resp


def url_of(server: TestServer, path: str) -> str:
    return f"{server.scheme}://127.0.0.1:{server.port}{path}"


@pytest.fixture
async def pool() -> AsyncIterator[H1Pool]:
    p = H1Pool(connect_s=2.0)
    yield p
    await p.close()


async def fetch(
    pool: H1Pool,
    method: str,
    url: str,
    headers: list[tuple[str, str]] | None = None,
    body: bytes | None = None,
    *,
    cap: int = CAP,
    read_s: float = 5.0,
    total_s: float = 5.0,
) -> H1Answer:
    return await pool.request(method, url, headers or [], body, read_s=read_s, total_s=total_s, cap=cap)


async def get(pool: H1Pool, url: str, *, cap: int = CAP, read_s: float = 5.0, total_s: float = 5.0) -> bytes:
    ans = await fetch(pool, "GET", url, cap=cap, read_s=read_s, total_s=total_s)
    return b"".join(ans.chunks)


# --- 1. bodies -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [DIRECT_READ_MIN, 300 * 1024 + 7])
async def test_content_length_body_of_64k_or_more_is_read_into_one_bytearray(pool: H1Pool, size: int) -> None:
    data = payload(size)

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=data)

    async with app_server([web.get("/big", big)]) as server:
        ans = await fetch(pool, "GET", url_of(server, "/big"))
    assert ans.status == 200
    assert int(ans.headers["Content-Length"]) == size
    assert len(ans.chunks) == 1
    assert type(ans.chunks[0]) is bytearray
    assert len(ans.chunks[0]) == size
    assert ans.chunks[0] == data


async def test_a_body_read_directly_that_ends_at_its_length_keeps_the_connection(pool: H1Pool) -> None:
    """The spare byte of a direct read is cut off again, and an answer that filled only its declared length leaves
    the connection in the pool."""
    data = payload(DIRECT_READ_MIN + 3)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _index: int) -> None:
        await answer_each(reader, writer, data)

    async with RawServer(handler) as server:
        for _ in range(3):
            ans = await fetch(pool, "GET", server.url())
            assert ans.chunks == [bytearray(data)]
        assert server.connections == 1


async def test_small_content_length_body_comes_back_complete(pool: H1Pool) -> None:
    async def small(request: web.Request) -> web.Response:
        return web.Response(body=b'{"ok": true}', content_type="application/json")

    async with app_server([web.get("/small", small)]) as server:
        ans = await fetch(pool, "GET", url_of(server, "/small"))
    assert ans.status == 200
    assert ans.headers["Content-Type"] == "application/json"
    assert b"".join(ans.chunks) == b'{"ok": true}'
    assert ans.first_byte_at > 0


async def test_chunked_body_comes_back_complete(pool: H1Pool) -> None:
    parts = [payload(10, 1), payload(70_000, 2), payload(1, 3), payload(5000, 4)]

    async def chunked(request: web.Request) -> web.StreamResponse:
        return await send_chunked(request, parts)

    async with app_server([web.get("/chunked", chunked)]) as server:
        ans = await fetch(pool, "GET", url_of(server, "/chunked"))
    assert ans.status == 200
    assert "chunked" in ans.headers["Transfer-Encoding"].lower()
    assert b"".join(ans.chunks) == b"".join(parts)


async def test_body_read_until_close_comes_back_complete(pool: H1Pool) -> None:
    until_close = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nno length, ended by the close"
    async with RawServer(replies(until_close)) as server:
        assert await get(pool, server.url()) == b"no length, ended by the close"


# --- 2. keep-alive ---------------------------------------------------------------------------------------------------


async def test_two_sequential_requests_reuse_one_connection(pool: H1Pool) -> None:
    peers: list[object] = []

    async def hello(request: web.Request) -> web.Response:
        assert request.transport is not None
        peers.append(request.transport.get_extra_info("peername"))
        return web.Response(body=b"hello")

    async with app_server([web.get("/", hello)]) as server:
        assert await get(pool, url_of(server, "/")) == b"hello"
        assert await get(pool, url_of(server, "/")) == b"hello"
    assert len(peers) == 2
    assert peers[0] == peers[1]


async def test_two_sequential_requests_reuse_one_connection_raw(pool: H1Pool) -> None:
    async with RawServer(serve_forever) as server:
        for _ in range(3):
            assert await get(pool, server.url()) == b"ok"
        assert server.connections == 1


# --- 3. stale keep-alive ---------------------------------------------------------------------------------------------


async def test_reused_connection_closed_by_server_is_retried_once_on_a_new_one(pool: H1Pool) -> None:
    requests_on: dict[int, int] = {}

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, index: int) -> None:
        if index == 0:  # answer once (keep-alive, no Connection: close), take the next request, close unanswered
            await read_request(reader)
            requests_on[0] = 1
            writer.write(answer(b"first"))
            await writer.drain()
            if await read_request(reader) is not None:
                requests_on[0] += 1
            return
        while await read_request(reader) is not None:
            requests_on[index] = requests_on.get(index, 0) + 1
            writer.write(answer(b"second"))
            await writer.drain()

    async with RawServer(handler) as server:
        assert await get(pool, server.url()) == b"first"
        assert await get(pool, server.url()) == b"second"
        assert server.connections == 2
    assert requests_on == {0: 2, 1: 1}  # the second request went out on the stale connection, then on a new one


async def test_server_closing_right_after_an_answer_does_not_fail_the_next_request(pool: H1Pool) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, index: int) -> None:
        await read_request(reader)
        writer.write(answer(b"n%d" % index))  # no Connection: close, then the close
        await writer.drain()

    async with RawServer(handler) as server:
        assert await get(pool, server.url()) == b"n0"
        assert await get(pool, server.url()) == b"n1"
        assert server.connections == 2


async def test_fresh_connection_closed_before_any_byte_raises_server_disconnected(pool: H1Pool) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, index: int) -> None:
        await read_request(reader)  # then the close, unanswered

    async with RawServer(handler) as server:
        with pytest.raises(ServerDisconnected):
            await get(pool, server.url())
        assert server.connections == 1  # no retry on a connection that was new


# --- 4. body cut short -----------------------------------------------------------------------------------------------


def cut_short_handler(declared: int, sent: int) -> Handler:
    return replies(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % declared + payload(sent))


@pytest.mark.parametrize(("declared", "sent"), [(100_000, 50_000), (1000, 500)])
async def test_body_cut_short_raises_body_cut_short(pool: H1Pool, declared: int, sent: int) -> None:
    async with RawServer(cut_short_handler(declared, sent)) as server:
        with pytest.raises(BodyCutShort):
            await get(pool, server.url())


async def test_chunked_body_cut_short_raises_body_cut_short(pool: H1Pool) -> None:
    cut = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n20\r\nshort"
    async with RawServer(replies(cut)) as server:
        with pytest.raises(BodyCutShort):
            await get(pool, server.url())


async def test_body_cut_short_via_upstream_client_is_unavailable() -> None:
    async with RawServer(cut_short_handler(100_000, 50_000)) as server:
        client = UpstreamClient("x")
        try:
            with pytest.raises(Unavailable, match="cut short") as info:
                await client.request("GET", server.url())
        finally:
            await client.aclose()
    assert info.value.provider == "x"


async def test_garbage_instead_of_an_answer_raises_body_cut_short(pool: H1Pool) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, index: int) -> None:
        await read_request(reader)
        writer.write(b"this is not HTTP at all\r\n\r\n")
        await writer.drain()
        await reader.read()

    async with RawServer(handler) as server:
        with pytest.raises(BodyCutShort, match="broke HTTP"):
            await get(pool, server.url())


# --- 5. cap ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "cap"), [(10_000, 5000), (200_000, 100_000)])
async def test_declared_length_over_cap_raises_body_too_large(pool: H1Pool, size: int, cap: int) -> None:
    async def big(request: web.Request) -> web.Response:
        return web.Response(body=payload(size), status=201)

    async with app_server([web.get("/big", big)]) as server:
        with pytest.raises(BodyTooLarge) as info:
            await get(pool, url_of(server, "/big"), cap=cap)
    assert info.value.status == 201
    assert info.value.declared == size


async def test_chunked_body_over_cap_raises_body_too_large(pool: H1Pool) -> None:
    async def chunked(request: web.Request) -> web.StreamResponse:
        return await send_chunked(request, [payload(1000, i) for i in range(10)])

    async with app_server([web.get("/chunked", chunked)]) as server:
        with pytest.raises(BodyTooLarge) as info:
            await get(pool, url_of(server, "/chunked"), cap=5000)
    assert info.value.status == 200
    assert info.value.declared is None


@pytest.mark.parametrize("chunked", [False, True])
async def test_body_over_cap_via_upstream_client_is_bad_response(chunked: bool) -> None:
    async def big(request: web.Request) -> web.StreamResponse:
        if not chunked:
            return web.Response(body=payload(10_000))
        return await send_chunked(request, [payload(1000, i) for i in range(10)])

    client = UpstreamClient("x", max_body=4321)
    async with app_server([web.get("/big", big)]) as server:
        try:
            with pytest.raises(BadResponse, match="4321 byte cap") as info:
                await client.request("GET", url_of(server, "/big"))
        finally:
            await client.aclose()
    assert info.value.status == 200
    assert ("10000 bytes" in str(info.value)) is not chunked


# --- 6. timeouts -----------------------------------------------------------------------------------------------------


def head_then_silence(answer_from: int = 1) -> Handler:
    """Connections before ``answer_from`` send a head and then nothing; later ones answer."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, index: int) -> None:
        if index >= answer_from:
            await answer_each(reader, writer, b"after")
            return
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
        await writer.drain()
        await reader.read()  # until the client closes

    return handler


async def test_server_silent_after_head_raises_read_timeout(pool: H1Pool) -> None:
    async with RawServer(head_then_silence()) as server:
        started = time.monotonic()
        with pytest.raises(ReadTimeout, match="no byte") as info:
            await get(pool, server.url(), read_s=0.1, total_s=5.0)
        elapsed = time.monotonic() - started
    assert isinstance(info.value, TimeoutError)
    assert 0.09 <= elapsed < 2.0


async def test_server_trickling_forever_hits_total_deadline(pool: H1Pool) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, index: int) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
        while not writer.is_closing():
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(0.01)  # the server's pace: a byte every 10 ms, never a read-timeout gap

    async with RawServer(handler) as server:
        started = time.monotonic()
        with pytest.raises(ReadTimeout, match="deadline"):
            await get(pool, server.url(), read_s=1.0, total_s=0.2)
        elapsed = time.monotonic() - started
    assert 0.19 <= elapsed < 0.9


async def test_read_timeout_via_upstream_client_is_timeout() -> None:
    async with RawServer(head_then_silence()) as server:
        client = UpstreamClient("x", HttpTimeouts(connect=2.0, read=0.1, total=5.0))
        try:
            with pytest.raises(Timeout):
                await client.request("GET", server.url())
        finally:
            await client.aclose()


async def test_total_deadline_via_upstream_client_is_timeout() -> None:
    async with RawServer(head_then_silence()) as server:
        client = UpstreamClient("x", HttpTimeouts(connect=2.0, read=5.0, total=5.0))
        try:
            with pytest.raises(Timeout):
                await client.request("GET", server.url(), timeout=0.1)
        finally:
            await client.aclose()


async def test_connection_is_not_reused_after_a_timeout(pool: H1Pool) -> None:
    async with RawServer(head_then_silence(answer_from=1)) as server:
        with pytest.raises(ReadTimeout):
            await get(pool, server.url(), read_s=0.05, total_s=5.0)
        assert await get(pool, server.url(), read_s=1.0) == b"after"
        assert server.connections == 2


# --- 7. cancellation -------------------------------------------------------------------------------------------------


async def test_cancelled_request_closes_its_connection_and_the_next_one_is_new(pool: H1Pool) -> None:
    holding = asyncio.Event()
    client_closed = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, index: int) -> None:
        if index > 0:
            await answer_each(reader, writer, b"fresh")
            return
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf of it")
        await writer.drain()
        holding.set()
        assert await reader.read() == b""  # nothing more from the client: its close
        client_closed.set()

    async with RawServer(handler) as server:
        task = asyncio.create_task(get(pool, server.url()))
        await asyncio.wait_for(holding.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(client_closed.wait(), 5)
        assert await get(pool, server.url()) == b"fresh"
        assert server.connections == 2


# --- 8. content encodings --------------------------------------------------------------------------------------------


def raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), ("deflate", raw_deflate)],
    ids=["gzip", "deflate-zlib", "deflate-raw"],
)
async def test_compressed_answer_is_inflated(pool: H1Pool, encoding: str, compress: Callable[[bytes], bytes]) -> None:
    data = b"a fairly compressible body " * 5000
    offered: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        offered.append(request.headers.get("Accept-Encoding", ""))
        return web.Response(body=compress(data), headers={"Content-Encoding": encoding})

    async with app_server([web.get("/z", handler)]) as server:
        assert await get(pool, url_of(server, "/z")) == data
    assert offered == ["gzip, deflate"]


async def test_inflated_body_over_cap_raises_body_too_large(pool: H1Pool) -> None:
    bomb = gzip.compress(bytes(1_000_000))
    assert len(bomb) < 10_000

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=bomb, headers={"Content-Encoding": "gzip"})

    async with app_server([web.get("/z", handler)]) as server:
        with pytest.raises(BodyTooLarge):
            await get(pool, url_of(server, "/z"), cap=100_000)
        assert len(await get(pool, url_of(server, "/z"), cap=1_000_000)) == 1_000_000  # exactly the cap is fine


async def test_unknown_content_encoding_raises_body_cut_short(pool: H1Pool) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=b"\x1b\x00 not really brotli", headers={"Content-Encoding": "br"})

    async with app_server([web.get("/br", handler)]) as server:
        with pytest.raises(BodyCutShort, match="br"):
            await get(pool, url_of(server, "/br"))


# --- 9. redirects ----------------------------------------------------------------------------------------------------


class Echo:
    def __init__(self) -> None:
        self.seen: list[tuple[str, bytes, dict[str, str]]] = []

    async def __call__(self, request: web.Request) -> web.Response:
        self.seen.append((request.method, await request.read(), dict(request.headers)))
        return web.Response(body=b"echoed")


def redirect(status: int, location: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=status, headers={"Location": location}, body=b"moved")

    return handler


async def test_302_from_post_becomes_get_and_is_followed(pool: H1Pool) -> None:
    echo = Echo()
    async with app_server([web.post("/from", redirect(302, "/echo")), web.route("*", "/echo", echo)]) as server:
        ans = await fetch(pool, "POST", url_of(server, "/from"), [("Content-Type", "application/json")], b'{"a": 1}')
    assert ans.status == 200
    assert b"".join(ans.chunks) == b"echoed"
    [(method, body, headers)] = echo.seen
    assert method == "GET"
    assert body == b""
    assert "Content-Type" not in headers
    assert "Content-Length" not in headers


@pytest.mark.parametrize("status", [307, 308])
async def test_307_and_308_keep_method_and_body(pool: H1Pool, status: int) -> None:
    echo = Echo()
    async with app_server([web.post("/from", redirect(status, "/echo")), web.route("*", "/echo", echo)]) as server:
        ans = await fetch(pool, "POST", url_of(server, "/from"), [("Content-Type", "application/json")], b'{"a": 1}')
    assert ans.status == 200
    [(method, body, headers)] = echo.seen
    assert method == "POST"
    assert body == b'{"a": 1}'
    assert headers["Content-Type"] == "application/json"


async def test_redirect_to_another_origin_drops_authorization(pool: H1Pool) -> None:
    echo = Echo()
    async with (
        app_server([web.get("/echo", echo)]) as other,
        app_server([web.get("/from", redirect(302, url_of(other, "/echo")))]) as server,
    ):
        other_port = other.port
        ans = await fetch(pool, "GET", url_of(server, "/from"), [("Authorization", "Bearer s3cret"), ("X-Keep", "1")])
    assert ans.status == 200
    [(_, _, headers)] = echo.seen
    assert "Authorization" not in headers
    assert headers["X-Keep"] == "1"
    assert headers["Host"] == f"127.0.0.1:{other_port}"


async def test_redirect_on_the_same_origin_keeps_authorization(pool: H1Pool) -> None:
    echo = Echo()
    async with app_server([web.get("/from", redirect(301, "/echo")), web.get("/echo", echo)]) as server:
        ans = await fetch(pool, "GET", url_of(server, "/from"), [("Authorization", "Bearer s3cret")])
    assert ans.status == 200
    [(_, _, headers)] = echo.seen
    assert headers["Authorization"] == "Bearer s3cret"


async def test_more_than_max_redirects_raises(pool: H1Pool) -> None:
    hits: list[int] = []

    async def loop(request: web.Request) -> web.Response:
        hits.append(1)
        return web.Response(status=302, headers={"Location": "/loop"})

    async with app_server([web.get("/loop", loop)]) as server:
        with pytest.raises(BodyCutShort, match="redirects"):
            await get(pool, url_of(server, "/loop"))
    assert len(hits) == MAX_REDIRECTS + 1


# --- 10. TLS ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_cert(tmp_path_factory.mktemp("tls"))


def server_tls(cert_key: tuple[Path, Path]) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*cert_key)
    return ctx


async def test_https_with_a_trusted_self_signed_certificate_reads_a_large_body(self_signed: tuple[Path, Path]) -> None:
    data = payload(200 * 1024 + 3)

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=data)

    pool = H1Pool(tls=ssl.create_default_context(cafile=str(self_signed[0])))
    async with app_server([web.get("/big", big)], tls=server_tls(self_signed)) as server:
        try:
            url = url_of(server, "/big")
            assert url.startswith("https://")
            ans = await fetch(pool, "GET", url)
            again = await fetch(pool, "GET", url)
        finally:
            await pool.close()
    assert len(ans.chunks) == 1
    assert ans.chunks[0] == data
    assert b"".join(again.chunks) == data


async def test_https_default_context_refuses_a_self_signed_certificate(self_signed: tuple[Path, Path]) -> None:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(body=b"hello")

    pool = H1Pool()
    async with app_server([web.get("/", hello)], tls=server_tls(self_signed)) as server:
        try:
            with pytest.raises(ssl.SSLCertVerificationError) as info:
                await get(pool, url_of(server, "/"))
        finally:
            await pool.close()
    assert isinstance(info.value, OSError)


# --- 11. header injection, split_url, request_head ------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [("X-A", "a\r\nX-Evil: 1"), ("X-A", "a\nX-Evil: 1"), ("X-A", "a\rb"), ("X-A\r\nX-Evil", "1")],
    ids=["crlf-value", "lf-value", "cr-value", "crlf-name"],
)
async def test_header_with_a_line_break_raises_before_anything_is_sent(pool: H1Pool, header: tuple[str, str]) -> None:
    async with RawServer(serve_forever) as server:
        with pytest.raises(ValueError, match="line break"):
            await fetch(pool, "GET", server.url(), [header])
        assert server.connections == 0


def test_request_head_refuses_a_line_break_in_the_target() -> None:
    with pytest.raises(ValueError, match="line break"):
        request_head("GET", Origin("http", "h", 80), "/x\r\nX-Evil: 1", [])


def test_request_head_brackets_an_ipv6_host() -> None:
    head = request_head("GET", *split_url("http://[::1]:8080/x?y=1"), [])
    assert head.startswith(b"GET /x?y=1 HTTP/1.1\r\nHost: [::1]:8080\r\n")
    assert b"Host: [::1]\r\n" in request_head("GET", *split_url("http://[::1]/"), [])


def test_request_head_lines() -> None:
    head = request_head(
        "POST",
        Origin("https", "api.example.com", 443),
        "/v1",
        [("Host", "evil"), ("Content-Length", "99"), ("Connection", "close"), ("Authorization", "Bearer k")],
    )
    assert head == (  # the length line and the blank line are the pool's, per request
        b"POST /v1 HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer k\r\nAccept-Encoding: gzip, deflate\r\n"
    )
    own = request_head("GET", Origin("http", "h", 80), "/", [("accept-encoding", "identity")])
    assert b"gzip" not in own


async def test_the_length_line_is_sent_for_bodies_and_posts_only(pool: H1Pool) -> None:
    heads: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _index: int) -> None:
        while (got := await read_request(reader)) is not None:
            heads.append(got[0])
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()

    async with RawServer(handler) as server:
        for method, body in (("GET", None), ("POST", None), ("POST", b"abc")):
            answer = await fetch(pool, method, server.url(), body=body)
            assert bytes(b"".join(answer.chunks)) == b"ok"
    assert b"Content-Length" not in heads[0] and heads[0].endswith(b"\r\n\r\n")
    assert b"Content-Length: 0\r\n\r\n" in heads[1]
    assert b"Content-Length: 3\r\n\r\n" in heads[2]


async def test_head_requests_are_refused(pool: H1Pool) -> None:
    with pytest.raises(ValueError, match="HEAD"):
        await fetch(pool, "HEAD", "http://127.0.0.1:9/")


@pytest.mark.parametrize(
    ("url", "origin", "target"),
    [
        ("http://example.com/a/b?c=d", Origin("http", "example.com", 80), "/a/b?c=d"),
        ("https://example.com/a", Origin("https", "example.com", 443), "/a"),
        ("https://example.com", Origin("https", "example.com", 443), "/"),
        ("HTTPS://example.com:8443/x", Origin("https", "example.com", 8443), "/x"),
        ("http://127.0.0.1:9000/", Origin("http", "127.0.0.1", 9000), "/"),
        ("http://[::1]:8080/x?y=1", Origin("http", "::1", 8080), "/x?y=1"),
        ("https://[2001:db8::1]/v1", Origin("https", "2001:db8::1", 443), "/v1"),
        ("http://user:pa%40ss@example.com/x", Origin("http", "example.com", 80), "/x"),
        ("http://user:pass@[::1]:81/x", Origin("http", "::1", 81), "/x"),
        ("http://example.com/x?y=1#frag", Origin("http", "example.com", 80), "/x?y=1"),
        ("http://example.com?y=1", Origin("http", "example.com", 80), "/?y=1"),
        ("http://example.com#frag", Origin("http", "example.com", 80), "/"),
    ],
)
def test_split_url(url: str, origin: Origin, target: str) -> None:
    assert split_url(url) == (origin, target)


def test_split_url_relative_to_a_base() -> None:
    base = Origin("https", "example.com", 443)
    assert split_url("/next?x=1", base) == (base, "/next?x=1")
    assert split_url("http://other:81/y", base) == (Origin("http", "other", 81), "/y")


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "file:///etc/passwd", "example.com/x", "/relative", "http:///nohost", "http://h:0/"]
)
def test_split_url_refuses(url: str) -> None:
    with pytest.raises(ValueError):
        split_url(url)


def test_origin_host_header() -> None:
    assert Origin("http", "h", 80).host_header == "h"
    assert Origin("https", "h", 443).host_header == "h"
    assert Origin("https", "h", 80).host_header == "h:80"
    assert Origin("http", "h", 8080).host_header == "h:8080"


# --- 12. 100 Continue ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("separate_writes", [False, True])
async def test_100_continue_before_the_answer_is_skipped(pool: H1Pool, separate_writes: bool) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, index: int) -> None:
        while await read_request(reader) is not None:
            interim = b"HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n"
            final = answer(b"the real one", extra=b"X-Final: 1\r\n")
            if separate_writes:
                writer.write(interim)
                await writer.drain()
                writer.write(final)
            else:
                writer.write(interim + final)
            await writer.drain()

    async with RawServer(handler) as server:
        ans = await fetch(pool, "POST", server.url(), body=b"body")
        assert ans.status == 200
        assert b"".join(ans.chunks) == b"the real one"
        assert ans.headers["X-Final"] == "1"
        assert "X-Interim" not in ans.headers
        assert await get(pool, server.url()) == b"the real one"  # and the connection was still good
        assert server.connections == 1


# --- 13. bytes after the answer --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [b"garbage!!", answer(b"unsolicited"), b"HTTP/1.1 200 OK\r\n"],
    ids=["garbage", "a-whole-answer", "a-partial-head"],
)
@pytest.mark.parametrize("padding", [0, DIRECT_READ_MIN], ids=["parsed", "read-directly"])
async def test_bytes_after_a_complete_answer_stop_the_connection_being_reused(
    pool: H1Pool, extra: bytes, padding: int
) -> None:
    """Also for a body read straight into its own buffer, where the parser never sees the bytes after it."""
    requests_on: dict[int, int] = {}
    pad = b"p" * padding

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, index: int) -> None:
        while await read_request(reader) is not None:
            requests_on[index] = requests_on.get(index, 0) + 1
            writer.write(answer(b"answer %d" % index + pad) + (extra if index == 0 else b""))
            await writer.drain()

    async with RawServer(handler) as server:
        first = await fetch(pool, "GET", server.url())
        assert first.status == 200
        assert b"".join(first.chunks) == b"answer 0" + pad
        assert await get(pool, server.url()) == b"answer 1" + pad
        assert server.connections == 2
    assert requests_on == {0: 1, 1: 1}


async def test_a_304_announcing_a_large_length_carries_no_body(pool: H1Pool) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _index: int) -> None:
        while await read_request(reader) is not None:
            writer.write(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 100000\r\n\r\n")
            await writer.drain()

    async with RawServer(handler) as server:
        for _ in range(2):  # and the connection is reused
            answer = await fetch(pool, "GET", server.url())
            assert answer.status == 304 and b"".join(answer.chunks) == b""
        assert server.connections == 1


# --- names: looked up once, shared, every address tried ------------------------------------------------------------


class FrontResolver(Resolver):
    """The real lookup, with ``first`` addresses put in front of what it found."""

    def __init__(self, first: list[tuple[int, str]] | None = None) -> None:
        super().__init__(ttl_s=300.0)
        self.first = first or []

    async def resolve(self, host: str, port: int) -> list[tuple[int, str]]:
        found = await super().resolve(host, port)
        return self.first + found


async def test_a_host_name_is_looked_up_once_for_many_new_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo
    lookups: list[str] = []

    async def counted(host: str, *args: object, **kwargs: object) -> list:  # type: ignore[type-arg]
        lookups.append(host)
        return await real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(loop, "getaddrinfo", counted)
    held = asyncio.Event()

    async def hold_then_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _index: int) -> None:
        await read_request(reader)
        await held.wait()  # every request in flight at once: one new connection each
        writer.write(answer(b"ok"))
        await writer.drain()

    pool = H1Pool(connect_s=2.0)
    try:
        async with RawServer(hold_then_answer) as server:
            url = f"http://localhost:{server.port}/"
            calls = [asyncio.ensure_future(fetch(pool, "GET", url)) for _ in range(8)]
            while server.connections < 8:
                await asyncio.sleep(0)
            held.set()
            answers = await asyncio.gather(*calls)
        assert [b"".join(a.chunks) for a in answers] == [b"ok"] * 8
        assert server.connections == 8 and lookups == ["localhost"]  # eight connections, one lookup
    finally:
        await pool.close()


async def test_ip_literals_are_not_looked_up() -> None:
    resolver = Resolver()
    assert await resolver.resolve("127.0.0.1", 80) == [(socket.AF_INET, "127.0.0.1")]
    assert await resolver.resolve("::1", 80) == [(socket.AF_INET6, "::1")]


async def test_an_address_that_refuses_is_passed_over_for_the_next() -> None:
    refusing = socket.socket()
    refusing.bind(("127.0.0.2", 0))  # bound, never listening: connecting to its port is refused
    pool = H1Pool(connect_s=2.0)
    try:
        async with RawServer(serve_forever) as server:
            # the server listens on 127.0.0.1 only; 127.0.0.2 (same port) refuses
            pool._resolver = FrontResolver(first=[(socket.AF_INET, "127.0.0.2")])
            body = await get(pool, f"http://localhost:{server.port}/")
        assert body == b"ok" and server.connections == 1
    finally:
        refusing.close()
        await pool.close()


async def test_when_no_address_answers_the_name_is_looked_up_again() -> None:
    resolver = FrontResolver()
    pool = H1Pool(connect_s=2.0)
    pool._resolver = resolver
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    try:
        with pytest.raises(ConnectionRefusedError):
            await get(pool, f"http://localhost:{port}/")
        assert ("localhost", port) not in resolver._known
    finally:
        closed.close()
        await pool.close()

"""A lean HTTP/1.1 client for the adapters' buffered calls: keep-alive pools, httptools' parser (llhttp), and a
``BufferedProtocol`` that reads a large body straight into one buffer of its declared length.

Why not aiohttp for these calls: side by side on the overhead benchmark (bench/overhead, docs/benchmarks.md),
aiohttp's request machinery was the largest single share of the gateway's CPU on a 2 KB answer, and a 2 MB answer
was copied twice in user space (uvloop's read buffer into ``bytes``, then the parser's body slices). Here the head
is parsed by httptools and, once the headers say how long the body is, the socket is read into the final buffer:
the kernel's copy is the only one. aiohttp still serves what needs more of HTTP: multipart uploads, streamed
(SSE) answers, webhook deliveries.

What this client does: http and https (the default TLS context: certificates and host names checked), a pool of
idle keep-alive connections per origin (closed after ``keepalive_s`` idle), one retry of a request whose reused
connection turned out closed before any byte of the answer came, ``Content-Length``, chunked and read-until-close
bodies, gzip / deflate answers, redirects (Authorization dropped on another origin), a connect timeout, a read
timeout between bytes and a total deadline, and a body cap. Failures are ``ConnectionError`` / ``TimeoutError``
subclasses, which ``providers/http.transport_error`` maps onto typed provider errors.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

import httptools
from multidict import CIMultiDict, CIMultiDictProxy

DIRECT_READ_MIN = 64 * 1024  # bodies declared at least this long are read straight into their own buffer
_SCRATCH = 64 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 10


class ServerDisconnected(ConnectionError):
    """The connection closed before the answer's first byte."""


class BodyCutShort(ConnectionError):
    """The connection closed, or the answer broke the protocol, before its body was complete."""


class BodyTooLarge(Exception):
    """The body is longer than the caller's cap (declared, or counted as it arrived)."""

    def __init__(self, status: int, declared: int | None) -> None:
        super().__init__(status, declared)
        self.status = status
        self.declared = declared


class ReadTimeout(TimeoutError):
    """No byte arrived for ``read_s``, or the total deadline passed."""


@dataclass(slots=True)
class H1Answer:
    status: int
    headers: CIMultiDictProxy[str]
    chunks: list[bytes | bytearray]  # the body as received: one buffer when read directly
    first_byte_at: float  # the event loop's clock when the answer's first byte came


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str
    host: str
    port: int

    def url(self, target: str) -> str:
        return f"{self.scheme}://{self._bracketed}:{self.port}{target}"

    @property
    def _bracketed(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 literal keeps its brackets

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        return self._bracketed if self.port == default else f"{self._bracketed}:{self.port}"


class _Connection(asyncio.BufferedProtocol):
    """One keep-alive connection; one request at a time. ``scratch`` is the pool's read buffer, shared by all its
    connections: every read is handed to ``buffer_updated`` and parsed (the parser copies what it keeps) before the
    loop reads from another socket, so a connection in flight costs no buffer of its own."""

    def __init__(self, loop: asyncio.AbstractEventLoop, scratch: memoryview) -> None:
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self._scratch_view = scratch
        self.closed = False
        self.idle_since = 0.0
        self._reset(None, 0)

    def _reset(self, done: asyncio.Future[H1Answer] | None, cap: int) -> None:
        self._done = done
        self._cap = cap
        self._parser = httptools.HttpResponseParser(self) if done is not None else None
        self._header_pairs: list[tuple[str, str]] = []
        self._status = 0
        self._chunks: list[bytes | bytearray] = []
        self._size = 0
        self._direct: bytearray | None = None
        self._direct_view: memoryview | None = None
        self._filled = 0
        self._length = -1  # declared Content-Length; -1 for chunked or read-until-close
        self._headers_done = False
        self._complete = False
        self.got_bytes = False
        self.keep_alive = False
        self._first_byte_at = 0.0
        self.last_read = 0.0

    # asyncio.BufferedProtocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def get_buffer(self, sizehint: int) -> memoryview:
        if self._direct_view is not None:
            return self._direct_view[self._filled :]
        return self._scratch_view

    def buffer_updated(self, nbytes: int) -> None:
        self.last_read = now = self._loop.time()
        if self._done is None or self._done.done():  # bytes nobody asked for: the connection is not reusable
            self.close()
            return
        if not self.got_bytes:
            self.got_bytes = True
            self._first_byte_at = now
        if self._direct is not None:
            self._filled += nbytes
            if self._filled > self._length:  # the spare byte filled: more came than the answer declared
                self.keep_alive = False
            if self._filled >= self._length:
                self._message_done()
            return
        try:
            assert self._parser is not None
            self._parser.feed_data(self._scratch_view[:nbytes])
        except httptools.HttpParserUpgrade:
            self._fail(BodyCutShort("the upstream switched protocols"))
        except httptools.HttpParserError as exc:
            # httptools wraps what a callback raised (BodyTooLarge) in HttpParserCallbackError, as its __context__
            raised = exc.__context__
            if isinstance(raised, BodyTooLarge | BodyCutShort):
                self._fail(raised)
            else:
                self._fail(BodyCutShort(f"the upstream broke HTTP/1.1 ({exc})"))

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._done is None or self._done.done():
            return
        if not self.got_bytes:
            self._fail(ServerDisconnected("the upstream closed the connection before answering"))
        elif self._headers_done and self._length < 0 and not self._is_chunked():
            self.keep_alive = False  # a body that runs until the connection closes: it is complete
            self._message_done()
        else:
            self._fail(BodyCutShort("upstream body was cut short: the connection closed before its end"))

    # httptools callbacks
    def on_message_begin(self) -> None:
        if self._complete:  # bytes after the answer (another one, or garbage): stop, the connection is not reusable
            raise BodyCutShort("the upstream sent bytes after its answer")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_pairs.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        assert self._parser is not None
        self._status = self._parser.get_status_code()
        if 100 <= self._status < 200:  # an interim answer (100 Continue): the real one follows
            self._header_pairs = []
            return
        self._headers_done = True
        self.keep_alive = self._parser.should_keep_alive()
        length = -1
        for name, value in self._header_pairs:
            if name.lower() == "content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = -1
        self._length = length
        if length > self._cap:
            raise BodyTooLarge(self._status, length)
        if length >= DIRECT_READ_MIN and self._status not in (204, 304):  # those two never carry a body
            # one spare byte: a read that fills it shows bytes beyond the declared length, which the parser never
            # sees in this mode, so the connection is not put back with them waiting in its socket
            self._direct = bytearray(length + 1)
            self._direct_view = memoryview(self._direct)

    def on_body(self, body: bytes) -> None:
        if self._direct is not None:
            end = self._filled + len(body)
            self._direct[self._filled : end] = body
            self._filled = end
            if end == self._length:  # the whole body came with the head (the parser sees what follows it)
                self._message_done()
            return
        self._size += len(body)
        if self._size > self._cap:
            raise BodyTooLarge(self._status, None)
        self._chunks.append(body)

    def on_message_complete(self) -> None:
        if self._headers_done and self._direct is None:
            self._message_done()

    # the rest
    def _is_chunked(self) -> bool:
        return any(n.lower() == "transfer-encoding" and "chunked" in v.lower() for n, v in self._header_pairs)

    def _message_done(self) -> None:
        if self._complete:
            return
        self._complete = True
        self._direct_view = None  # later bytes land in the scratch buffer (and close the connection)
        if self._direct is not None:  # the spare byte goes once the read that filled the buffer has let go of it
            self._loop.call_soon(_trim, self._direct, self._length)
        done = self._done
        if done is None or done.done():
            return
        chunks: list[bytes | bytearray] = [self._direct] if self._direct is not None else self._chunks
        headers = CIMultiDictProxy(CIMultiDict(self._header_pairs))
        done.set_result(H1Answer(self._status, headers, chunks, self._first_byte_at))

    def _fail(self, exc: BaseException) -> None:
        self.keep_alive = False
        if self._done is not None and not self._done.done():
            self._done.set_exception(exc)
        self.close()

    def send(self, head: bytes, body: bytes | bytearray | None, cap: int) -> asyncio.Future[H1Answer]:
        done: asyncio.Future[H1Answer] = self._loop.create_future()
        self._reset(done, cap)
        assert self.transport is not None
        self.last_read = self._loop.time()
        if body and len(body) > 16 * 1024:
            self.transport.writelines((head, body))
        else:
            self.transport.write(head + body if body else head)
        return done

    def reusable(self) -> bool:
        return self._complete and self.keep_alive and not self.closed and self.transport is not None

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def _trim(buffer: bytearray, length: int) -> None:
    """Cut a direct-read buffer to its declared length. Scheduled before the answer's future is settled, so it
    runs before anyone reads the answer; not in ``buffer_updated``, where the loop still holds a view of it."""
    del buffer[length:]


class H1Pool:
    """Keep-alive connections per origin. Create and use inside one running event loop."""

    def __init__(
        self,
        *,
        connect_s: float = 10.0,
        keepalive_s: float = 60.0,
        limit: int = 0,
        tls: ssl.SSLContext | None = None,
        dns_ttl_s: float = 300.0,
    ) -> None:
        self.connect_s = connect_s
        self.keepalive_s = keepalive_s
        self._idle: dict[Origin, list[_Connection]] = {}
        self._tls = tls  # None: the default context (certificates and host names checked), made on first use
        self._slots = asyncio.Semaphore(limit) if limit > 0 else None
        self._heads: dict[tuple[str, str, tuple[tuple[str, str], ...]], tuple[Origin, bytes]] = {}
        self._resolver = Resolver(dns_ttl_s)
        self._scratch = memoryview(bytearray(_SCRATCH))
        self._closed = False

    async def request(
        self,
        method: str,
        url: str,
        headers: Iterable[tuple[str, str]],
        body: bytes | bytearray | None,
        *,
        read_s: float,
        total_s: float,
        cap: int,
    ) -> H1Answer:
        """One request, redirects followed; the whole body read (at most ``cap`` bytes). Not for ``HEAD`` (the
        parser would wait for the body its headers announce)."""
        if method == "HEAD":
            raise ValueError("H1Pool does not send HEAD requests")
        deadline = time.monotonic() + total_s
        hdrs = tuple(headers)
        for _ in range(MAX_REDIRECTS + 1):
            origin, head = self._head(method, url, hdrs)
            if body or method in ("POST", "PUT", "PATCH"):
                head += b"Content-Length: %d\r\n\r\n" % len(body or b"")
            else:
                head += b"\r\n"
            if self._slots is not None:
                async with self._slots:
                    answer = await self._exchange(origin, head, body, read_s, deadline, cap)
            else:
                answer = await self._exchange(origin, head, body, read_s, deadline, cap)
            location = answer.headers.get("Location")
            if answer.status not in _REDIRECTS or not location:
                return answer
            next_origin, target = split_url(location, origin)
            if answer.status == 303 or (answer.status in (301, 302) and method == "POST"):
                method, body = "GET", None
                hdrs = tuple((k, v) for k, v in hdrs if k.lower() not in ("content-type", "content-length"))
            if next_origin != origin:
                hdrs = tuple((k, v) for k, v in hdrs if k.lower() != "authorization")
            url = next_origin.url(target)
        raise BodyCutShort(f"more than {MAX_REDIRECTS} redirects")

    def _head(self, method: str, url: str, headers: tuple[tuple[str, str], ...]) -> tuple[Origin, bytes]:
        """The origin and the request head up to its length line, made once per (method, URL, headers): an adapter
        sends the same few."""
        key = (method, url, headers)
        made = self._heads.get(key)
        if made is None:
            if len(self._heads) >= 256:  # per-request URLs (a prediction's id): keep the cache small
                self._heads.clear()
            origin, target = split_url(url)
            made = self._heads[key] = (origin, request_head(method, origin, target, headers))
        return made

    async def _exchange(
        self,
        origin: Origin,
        head: bytes,
        body: bytes | bytearray | None,
        read_s: float,
        deadline: float,
        cap: int,
    ) -> H1Answer:
        for attempt in range(2):
            conn, reused = self._take(origin)
            if conn is None:
                conn = await self._connect(origin, deadline)
            done = conn.send(head, body, cap)
            watch = _Watch(conn, done, read_s, deadline)
            try:
                answer = await done
            except ServerDisconnected:
                if reused and attempt == 0:  # the server had closed the idle connection: once more, on a new one
                    continue
                raise
            except BaseException:
                conn.close()  # cancelled or failed mid-answer: the connection's state is unknown
                raise
            finally:
                watch.cancel()
            if conn.reusable():
                conn.idle_since = time.monotonic()
                self._idle.setdefault(origin, []).append(conn)
            else:
                conn.close()
            return decoded(answer, cap)
        raise AssertionError("unreachable")

    def _take(self, origin: Origin) -> tuple[_Connection | None, bool]:
        idle = self._idle.get(origin)
        if not idle:
            return None, False
        oldest_ok = time.monotonic() - self.keepalive_s
        while idle and idle[0].idle_since < oldest_ok:  # the oldest first: past their keep-alive, close them
            idle.pop(0).close()
        while idle:
            conn = idle.pop()
            if not conn.closed and conn.transport is not None and not conn.transport.is_closing():
                return conn, True
        return None, False

    async def _connect(self, origin: Origin, deadline: float) -> _Connection:
        if self._closed:
            raise ServerDisconnected("the client is closed")
        loop = asyncio.get_running_loop()
        tls = None
        if origin.scheme == "https":
            if self._tls is None:
                self._tls = ssl.create_default_context()
            tls = self._tls
        timeout = max(0.0, min(self.connect_s, deadline - time.monotonic()))
        try:
            async with asyncio.timeout(timeout):
                addresses = await self._resolver.resolve(origin.host, origin.port)
                error: OSError | None = None
                for family, address in addresses:  # each address in turn until one answers
                    try:
                        _, conn = await loop.create_connection(
                            lambda: _Connection(loop, self._scratch),
                            address,
                            origin.port,
                            family=family,
                            ssl=tls,
                            server_hostname=origin.host if tls else None,
                        )
                        return conn
                    except OSError as exc:
                        error = exc
                self._resolver.forget(origin.host, origin.port)  # none answered: look the name up again next time
                assert error is not None
                raise error
        except TimeoutError as exc:
            raise ReadTimeout(f"connecting to {origin.host}:{origin.port} timed out") from exc

    async def close(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()


class Resolver:
    """A host name's addresses, kept for ``ttl_s`` (a burst of new connections to one provider looks it up once;
    lookups of one name in flight at the same time share one). IP literals are not looked up."""

    def __init__(self, ttl_s: float = 300.0) -> None:
        self.ttl_s = ttl_s
        self._known: dict[tuple[str, int], tuple[float, list[tuple[int, str]]]] = {}
        self._pending: dict[tuple[str, int], asyncio.Future[list[tuple[int, str]]]] = {}

    async def resolve(self, host: str, port: int) -> list[tuple[int, str]]:
        """``[(family, address), ...]`` to connect to, in the resolver's order."""
        try:
            ip = ipaddress.ip_address(host)
            return [(socket.AF_INET6 if ip.version == 6 else socket.AF_INET, host)]
        except ValueError:
            pass
        key = (host, port)
        known = self._known.get(key)
        if known is not None and known[0] > time.monotonic():
            return known[1]
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        loop = asyncio.get_running_loop()
        pending = self._pending[key] = loop.create_future()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            addresses: list[tuple[int, str]] = list(
                dict.fromkeys((int(family), str(sockaddr[0])) for family, _, _, _, sockaddr in infos)
            )
            if not addresses:
                raise OSError(f"no address for {host}")
            if len(self._known) >= 1024:
                self._known.clear()
            self._known[key] = (time.monotonic() + self.ttl_s, addresses)
            pending.set_result(addresses)
            return addresses
        except BaseException as exc:
            pending.set_exception(exc if isinstance(exc, Exception) else OSError(f"the lookup of {host} stopped"))
            pending.exception()  # retrieved: nobody else may be waiting
            raise
        finally:
            del self._pending[key]

    def forget(self, host: str, port: int) -> None:
        self._known.pop((host, port), None)


class _Watch:
    """One timer per request: the read timeout between bytes and the total deadline."""

    __slots__ = ("_conn", "_deadline", "_done", "_handle", "_loop", "_read_s")

    def __init__(self, conn: _Connection, done: asyncio.Future[H1Answer], read_s: float, deadline: float) -> None:
        self._conn, self._done, self._read_s = conn, done, read_s
        self._loop = asyncio.get_running_loop()
        # the deadline on the loop's clock (time.monotonic and loop.time share a clock on Linux, not everywhere)
        self._deadline = self._loop.time() + (deadline - time.monotonic())
        self._handle = self._loop.call_at(min(self._deadline, conn.last_read + read_s), self._check)

    def _check(self) -> None:
        if self._done.done():
            return
        now = self._loop.time()
        if now >= self._deadline:
            self._conn._fail(ReadTimeout("the upstream's answer passed the request's deadline"))
        elif now - self._conn.last_read >= self._read_s:
            self._conn._fail(ReadTimeout(f"no byte from the upstream for {self._read_s:g} s"))
        else:
            self._handle = self._loop.call_at(min(self._deadline, self._conn.last_read + self._read_s), self._check)

    def cancel(self) -> None:
        self._handle.cancel()


def split_url(url: str, base: Origin | None = None) -> tuple[Origin, str]:
    """``(origin, request target)`` of an absolute URL, or of a path relative to ``base`` (a redirect)."""
    if url.startswith("/") and base is not None:
        return base, url
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("http", "https"):
        raise ValueError(f"not an http(s) URL: {url[:80]!r}")
    end = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    authority, target = rest[:end], rest[end:]
    authority = authority.rsplit("@", 1)[-1]  # credentials in a URL are never sent
    target = target.split("#", 1)[0]
    if not target.startswith("/"):
        target = "/" + target
    if authority.startswith("["):  # IPv6 literal
        host, _, port_text = authority[1:].partition("]")
        port_text = port_text.lstrip(":")
    else:
        host, _, port_text = authority.partition(":")
    port = int(port_text) if port_text else (443 if scheme == "https" else 80)
    if not host or not 0 < port < 65536:
        raise ValueError(f"no host in URL: {url[:80]!r}")
    return Origin(scheme, host, port), target


def request_head(method: str, origin: Origin, target: str, headers: Iterable[tuple[str, str]]) -> bytes:
    """The request line and headers, without the length line and the blank line that end the head."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {origin.host_header}"]
    seen_encoding = False
    for name, value in headers:
        lowered = name.lower()
        if lowered in ("host", "content-length", "transfer-encoding", "connection"):
            continue
        seen_encoding = seen_encoding or lowered == "accept-encoding"
        lines.append(f"{name}: {value}")
    if not seen_encoding:
        lines.append("Accept-Encoding: gzip, deflate")
    if any("\r" in line or "\n" in line for line in lines):
        raise ValueError("the request line or a header holds a line break")
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")


def decoded(answer: H1Answer, cap: int) -> H1Answer:
    """The body inflated when the upstream compressed it (we offer gzip and deflate, as aiohttp did), at most
    ``cap`` bytes of it."""
    encoding = answer.headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("", "identity") or not answer.chunks:
        return answer
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise BodyCutShort(f"the upstream answered with an encoding we did not offer: {encoding[:40]}")
    wbits = 16 + zlib.MAX_WBITS if encoding in ("gzip", "x-gzip") else zlib.MAX_WBITS
    try:
        body = _inflate(answer.chunks, wbits, cap, answer.status)
    except zlib.error:
        if encoding != "deflate":
            raise BodyCutShort("the upstream's gzip body is corrupt") from None
        try:  # raw deflate, as some servers send it
            body = _inflate(answer.chunks, -zlib.MAX_WBITS, cap, answer.status)
        except zlib.error:
            raise BodyCutShort("the upstream's deflate body is corrupt") from None
    return H1Answer(answer.status, answer.headers, [body], answer.first_byte_at)


def _inflate(chunks: list[bytes | bytearray], wbits: int, cap: int, status: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    out: list[bytes] = []
    size = 0
    for chunk in chunks:
        data = inflater.decompress(chunk, cap + 1 - size)
        while True:
            size += len(data)
            if size > cap:
                raise BodyTooLarge(status, None)
            out.append(data)
            if not inflater.unconsumed_tail:
                break
            data = inflater.decompress(inflater.unconsumed_tail, cap + 1 - size)
    tail = inflater.flush()
    if size + len(tail) > cap:
        raise BodyTooLarge(status, None)
    out.append(tail)
    return b"".join(out)

"""Shared upstream HTTP plumbing for adapters: pooled keep-alive connections, timeouts, capped bodies, time to
first byte, and the mapping of transport failures onto typed provider errors.

Calls with a JSON or bytes body (or none) go through ``h1.H1Pool``, a lean HTTP/1.1 client that reads a large body
into one buffer; multipart bodies (``aiohttp.FormData``) and streamed answers (``session``) use aiohttp."""

from __future__ import annotations

import asyncio
import email.utils
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import aiohttp
import orjson

from imagegate.core.errors import BadResponse, ProviderError, Timeout, Unavailable
from imagegate.providers.b64lift import Chunk, Lifted, loads_lifting_chunks
from imagegate.providers.h1 import BodyCutShort, BodyTooLarge, H1Pool

DEFAULT_MAX_BODY = 64 * 1024 * 1024  # 64 MiB: a 4K PNG as base64 fits comfortably


@dataclass(slots=True)
class HttpTimeouts:
    connect: float = 10.0
    read: float = 300.0  # between bytes; generation takes tens of seconds
    total: float = 600.0


class UpstreamResponse:
    """One upstream answer. The body is kept as the chunks it was received in: ``body`` joins them (once, on first
    use), while ``json_lifting`` parses around the base64 without ever joining them."""

    __slots__ = ("_chunks", "elapsed_ms", "headers", "provider", "status", "ttfb_ms")

    def __init__(
        self,
        status: int,
        headers: Any,  # multidict, case-insensitive
        body: bytes | Sequence[Chunk],
        ttfb_ms: float,
        elapsed_ms: float,
        provider: str = "",
    ) -> None:
        self.status = status
        self.headers = headers
        self._chunks: list[Chunk] = [body] if isinstance(body, bytes) else list(body)
        self.ttfb_ms = ttfb_ms
        self.elapsed_ms = elapsed_ms
        self.provider = provider

    @property
    def body(self) -> bytes:
        if len(self._chunks) != 1 or not isinstance(self._chunks[0], bytes):
            self._chunks = [b"".join(self._chunks)]
        return self._chunks[0]  # type: ignore[return-value]

    def json_lifting(self, key: bytes) -> tuple[Any, list[Lifted]]:
        """``json()`` with long base64 values of ``key`` kept as zero-copy slices of the received chunks (see
        ``b64lift``)."""
        try:
            return loads_lifting_chunks(self._chunks, key)
        except orjson.JSONDecodeError as exc:
            raise self._malformed() from exc

    def json(self) -> Any:
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError as exc:
            raise self._malformed() from exc

    def _malformed(self) -> BadResponse:
        return BadResponse(
            f"{self.provider or 'upstream'} sent malformed JSON (HTTP {self.status})",
            provider=self.provider,
            status=self.status,
        )


class UpstreamClient:
    """One pooled keep-alive session per adapter. Create inside a running event loop."""

    def __init__(
        self,
        provider: str,
        timeouts: HttpTimeouts | None = None,
        *,
        limit: int = 0,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        self.provider = provider
        self.timeouts = timeouts or HttpTimeouts()
        self.max_body = max_body
        self._limit = limit
        self._session: aiohttp.ClientSession | None = None
        self._pool: H1Pool | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._limit, ttl_dns_cache=300, keepalive_timeout=60)
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),  # API calls carry their credentials; no cookie bookkeeping
                json_serialize=lambda o: orjson.dumps(o).decode(),
                auto_decompress=True,
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        json: Any = None,
        data: Any = None,
        timeout: float | None = None,
        max_body: int | None = None,
    ) -> UpstreamResponse:
        """Send one request and read the whole (capped) body. Transport failures become typed errors."""
        body_bytes = orjson.dumps(json) if json is not None else data
        hdrs = dict(headers or {})
        if json is not None:
            hdrs.setdefault("Content-Type", "application/json")
        total = min(timeout, self.timeouts.total) if timeout is not None else self.timeouts.total
        cap = max_body or self.max_body
        if body_bytes is None or isinstance(body_bytes, bytes | bytearray):
            return await self._lean(method, url, hdrs, body_bytes, total, cap)
        client_timeout = aiohttp.ClientTimeout(
            total=total, sock_connect=self.timeouts.connect, sock_read=self.timeouts.read
        )
        started = time.perf_counter()
        try:
            async with self.session.request(
                method, url, headers=hdrs, data=body_bytes, timeout=client_timeout, allow_redirects=True
            ) as resp:
                ttfb = (time.perf_counter() - started) * 1000
                declared = resp.content_length
                if declared is not None and declared > cap:
                    raise self._too_large(cap, resp.status, declared)
                # The body as it arrives, one receive chunk at a time, never joined (``json_lifting`` reads
                # around the base64 in place; ``api/encode.py`` writes the same slices out).
                chunks: list[bytes] = []
                size = 0
                while chunk := (await resp.content.readchunk())[0]:
                    size += len(chunk)
                    if size > cap:
                        raise self._too_large(cap, resp.status, None)
                    chunks.append(chunk)
                body = chunks or [b""]
                return UpstreamResponse(
                    status=resp.status,
                    headers=resp.headers,
                    body=body,
                    ttfb_ms=ttfb,
                    elapsed_ms=(time.perf_counter() - started) * 1000,
                    provider=self.provider,
                )
        except ProviderError:
            raise
        except TRANSPORT_ERRORS as exc:
            raise transport_error(self.provider, exc) from exc

    async def _lean(
        self, method: str, url: str, headers: dict[str, str], body: bytes | bytearray | None, total: float, cap: int
    ) -> UpstreamResponse:
        if self._pool is None:
            self._pool = H1Pool(connect_s=self.timeouts.connect, limit=self._limit)
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            answer = await self._pool.request(
                method, url, headers.items(), body, read_s=self.timeouts.read, total_s=total, cap=cap
            )
        except BodyTooLarge as exc:
            raise self._too_large(cap, exc.status, exc.declared) from None
        except TRANSPORT_ERRORS as exc:
            raise transport_error(self.provider, exc) from exc
        return UpstreamResponse(
            status=answer.status,
            headers=answer.headers,
            body=answer.chunks or [b""],
            ttfb_ms=(answer.first_byte_at - started) * 1000,
            elapsed_ms=(loop.time() - started) * 1000,
            provider=self.provider,
        )

    def _too_large(self, cap: int, status: int, declared: int | None) -> BadResponse:
        size = f"of {declared} bytes " if declared is not None else ""
        return BadResponse(f"upstream body {size}exceeds the {cap} byte cap", provider=self.provider, status=status)

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
        if self._pool is not None:
            await self._pool.close()
        self._pool = None


TRANSPORT_ERRORS = (TimeoutError, aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, ConnectionError, OSError)


def transport_error(provider: str, exc: BaseException) -> ProviderError:
    """The typed error for a transport failure (timeout, cut-short body, refused or reset connection)."""
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return Timeout(f"{provider}: upstream timed out", provider=provider)
    if isinstance(exc, aiohttp.ClientPayloadError):
        return Unavailable(f"{provider}: upstream body was cut short", provider=provider)
    if isinstance(exc, BodyCutShort):  # our own client's words: a body cut short, a broken answer, a redirect loop
        return Unavailable(f"{provider}: {exc}", provider=provider)
    return Unavailable(f"{provider}: connection failed ({type(exc).__name__})", provider=provider)


def ok(status: int) -> bool:
    """Every 2xx is an answer (fal's queue status is ``202 Accepted`` until the request completes)."""
    return 200 <= status < 300


def retry_after_seconds(headers: Any, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` in either of its forms (RFC 9110 10.2.3): a number
    of seconds, or an HTTP-date (``Wed, 21 Oct 2026 07:28:00 GMT``), counted from ``now`` (unix seconds, default
    the wall clock). A date in the past is 0; an unreadable value is None."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # an obsolete date form without a zone: HTTP dates are GMT
            when = when.replace(tzinfo=UTC)
        return max(0.0, when.timestamp() - (time.time() if now is None else now))
    return max(0.0, seconds) if math.isfinite(seconds) else None

"""Images given by URL in chat messages (``image_url`` parts): data URLs decoded, http(s) URLs fetched safely.

A fetch is an SSRF risk, so by default it may only reach public addresses: an IP literal is checked before
connecting, a host name is checked after resolution (the resolver below refuses to hand out a private address,
so DNS cannot point us at one after the check), and every redirect is checked again. The body is capped while it
is read. ``allow_private_image_urls`` lifts the address rule (tests, private deployments).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import socket
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from imagegate.core.errors import InvalidRequest, PayloadTooLarge

MAX_REDIRECTS = 3
FETCH_TIMEOUT_S = 20.0


class BlockedAddress(OSError):
    """A host resolved to an address the gateway may not fetch from."""


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class PublicOnlyResolver(AbstractResolver):
    """The default resolver, refusing private, loopback, link-local and other non-global addresses."""

    def __init__(self) -> None:
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for r in results:
            if not is_public(r["host"]):
                raise BlockedAddress(f"{host} resolves to the non-public address {r['host']}")
        return results

    async def close(self) -> None:
        await self._inner.close()


def decode_data_url(url: str, field: str) -> bytes:
    """``data:image/png;base64,...`` -> bytes (only base64 data URLs carry images)."""
    head, sep, payload = url.partition(",")
    if not sep or ";base64" not in head.lower():
        raise InvalidRequest(
            f"Invalid '{field}': a data URL must be base64 ('data:image/png;base64,...').", param=field
        )
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(f"Invalid '{field}': the data URL's base64 does not decode.", param=field) from None


class ImageFetcher:
    """Fetches ``image_url`` inputs for one request (one short-lived session)."""

    def __init__(self, *, max_bytes: int, allow_private: bool) -> None:
        self.max_bytes = max_bytes
        self.allow_private = allow_private
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ImageFetcher:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self._session is not None:
            await self._session.close()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            resolver = None if self.allow_private else PublicOnlyResolver()
            connector = aiohttp.TCPConnector(resolver=resolver, limit=4)
            self._session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(FETCH_TIMEOUT_S))
        return self._session

    async def load(self, url: str, field: str) -> bytes:
        if url[:5].lower() == "data:":
            data = decode_data_url(url, field)
            if len(data) > self.max_bytes:
                raise PayloadTooLarge(f"'{field}' is too large: the limit is {self.max_bytes} bytes.", param=field)
            return data
        return await self.fetch(url, field)

    def _check_url(self, url: str, field: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidRequest(f"Invalid '{field}': expected a data URL or an http(s) URL.", param=field)
        if self.allow_private:
            return
        try:
            literal = ipaddress.ip_address(parts.hostname)
        except ValueError:
            return  # a name: checked when it resolves
        if not is_public(str(literal)):
            raise InvalidRequest(
                f"Invalid '{field}': {parts.hostname} is a private, loopback or otherwise non-public address; "
                "the gateway does not fetch from those.",
                param=field,
            )

    async def fetch(self, url: str, field: str) -> bytes:
        for _hop in range(MAX_REDIRECTS + 1):
            self._check_url(url, field)
            try:
                async with self._client().get(url, allow_redirects=False) as resp:
                    if resp.status in (301, 302, 303, 307, 308) and resp.headers.get("Location"):
                        url = urljoin(url, resp.headers["Location"])
                        continue
                    if resp.status != 200:
                        raise InvalidRequest(f"Invalid '{field}': fetching the image failed (HTTP {resp.status}).",
                                             param=field)  # fmt: skip
                    return await self._read(resp, field)
            except aiohttp.ClientConnectorError as exc:
                if isinstance(exc.os_error, BlockedAddress):
                    raise InvalidRequest(
                        f"Invalid '{field}': {exc.os_error}; the gateway does not fetch from non-public addresses.",
                        param=field,
                    ) from None
                raise InvalidRequest(f"Invalid '{field}': the image URL could not be reached.", param=field) from None
            except (aiohttp.ClientError, TimeoutError, OSError):
                raise InvalidRequest(f"Invalid '{field}': the image URL could not be fetched.", param=field) from None
        raise InvalidRequest(f"Invalid '{field}': more than {MAX_REDIRECTS} redirects.", param=field)

    async def _read(self, resp: aiohttp.ClientResponse, field: str) -> bytes:
        too_large = PayloadTooLarge(f"'{field}' is too large: the limit is {self.max_bytes} bytes.", param=field)
        if resp.content_length is not None and resp.content_length > self.max_bytes:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_any():
            size += len(chunk)
            if size > self.max_bytes:
                raise too_large
            chunks.append(chunk)
        return b"".join(chunks)

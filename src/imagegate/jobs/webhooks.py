"""Standard Webhooks: ``whsec_`` secrets, signatures, and the SSRF rules for webhook URLs.

The signature is ``v1,`` + base64(HMAC-SHA256(secret bytes, "{webhook-id}.{webhook-timestamp}.{body}")), the secret
``whsec_`` + base64 of 24 random bytes (https://www.standardwebhooks.com/).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import secrets
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from imagegate.core.errors import InvalidRequest

SECRET_PREFIX = "whsec_"
PUBLIC_PORTS = (443, 8443)


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode("ascii")


def signed_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
        "content-type": "application/json",
    }


@dataclass(frozen=True, slots=True)
class Target:
    """A webhook URL checked and resolved: deliver to ``address`` (pinned), naming ``host`` (TLS, Host header)."""

    url: str
    host: str
    port: int
    address: str


class UnsafeWebhook(ValueError):
    """The URL breaks the webhook rules (reason in the message, safe to show the client)."""


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def check_url(url: str, allow_private: bool) -> tuple[str, int]:
    """``(host, port)`` of a well-formed webhook URL, or ``UnsafeWebhook``. No DNS here."""
    if not isinstance(url, str) or len(url) > 2048:
        raise UnsafeWebhook("webhook_url must be a URL string of at most 2048 characters")
    parts = urlsplit(url)
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise UnsafeWebhook(f"webhook_url must use {' or '.join(schemes)}")
    host = parts.hostname
    if not host:
        raise UnsafeWebhook("webhook_url has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeWebhook("webhook_url has an invalid port") from None
    if not allow_private:
        if port not in PUBLIC_PORTS:
            raise UnsafeWebhook("webhook_url must use port 443 or 8443")
        if _ip(host) is not None or host.lower() == "localhost" or host.lower().endswith(".localhost"):
            raise UnsafeWebhook("webhook_url must name a public host, not an IP address or localhost")
    return host, port


def validate_url(url: object, allow_private: bool) -> str:
    """The URL for a new job, or a 400 naming ``webhook_url``."""
    try:
        check_url(url, allow_private)  # type: ignore[arg-type]
    except UnsafeWebhook as exc:
        raise InvalidRequest(f"Invalid webhook_url: {exc}.", param="webhook_url") from None
    return str(url)


async def resolve(url: str, allow_private: bool) -> Target:
    """Check ``url`` and resolve its host; every address must be public unless ``allow_private``."""
    host, port = check_url(url, allow_private)
    literal = _ip(host)
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError:
            raise UnsafeWebhook(f"the webhook host {host!r} does not resolve") from None
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise UnsafeWebhook(f"the webhook host {host!r} does not resolve")
    if not allow_private:
        for addr in addresses:
            ip = ipaddress.ip_address(addr)
            if not ip.is_global or ip.is_multicast:
                raise UnsafeWebhook(f"the webhook host {host!r} resolves to a non-public address")
    return Target(url=url, host=host, port=port, address=addresses[0])

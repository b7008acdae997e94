"""Standard Webhooks signatures (checked against the ``standardwebhooks`` package) and the SSRF rules."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import aiohttp
import pytest
from standardwebhooks import Webhook

from imagegate.jobs.deliveries import PinnedResolver
from imagegate.jobs.webhooks import Target, UnsafeWebhook, check_url, new_secret, resolve, sign, signed_headers
from tests.webhook_receiver import Receiver


def test_signature_is_standard_webhooks() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    body = b'{"type":"image.job.succeeded"}'
    ts = 1_796_000_000
    assert sign(secret, "msg_1", ts, body) == Webhook(secret).sign(
        "msg_1", datetime.fromtimestamp(ts, UTC), body.decode()
    )
    headers = signed_headers(secret, "msg_1", int(datetime.now(UTC).timestamp()), body)
    assert Webhook(secret).verify(body, headers) == {"type": "image.job.succeeded"}
    with pytest.raises(Exception):  # noqa: B017 - the package's own verification error
        Webhook(new_secret()).verify(body, headers)


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/h",
        "https://example.com:8080/h",
        "https://10.0.0.1/h",
        "https://[::1]/h",
        "https://localhost/h",
        "https://a.localhost/h",
        "ftp://example.com/",
        "https:///nohost",
        "https://x:99999/",
    ],
)
def test_unsafe_urls_are_refused(url: str) -> None:
    with pytest.raises(UnsafeWebhook):
        check_url(url, allow_private=False)


def test_allowed_urls() -> None:
    assert check_url("https://hooks.example.com/x", False) == ("hooks.example.com", 443)
    assert check_url("https://hooks.example.com:8443/x", False) == ("hooks.example.com", 8443)
    assert check_url("http://127.0.0.1:9000/x", True) == ("127.0.0.1", 9000)


async def test_a_name_resolving_to_a_private_address_is_refused() -> None:
    host = socket.gethostname()  # resolves to a loopback or LAN address (or not at all): never public here
    with pytest.raises(UnsafeWebhook):
        await resolve(f"https://{host}/hook", allow_private=False)
    target = await resolve("http://127.0.0.1:9/hook", allow_private=True)
    assert target.address == "127.0.0.1"


async def test_delivery_connects_to_the_pinned_address() -> None:
    """The URL names a host that does not resolve at all; the pinned address is where the request goes."""
    receiver = Receiver()
    try:
        port = receiver.server.server_address[1]
        target = Target(url=f"http://hook.invalid:{port}/in", host="hook.invalid", port=port, address="127.0.0.1")
        connector = aiohttp.TCPConnector(resolver=PinnedResolver(target), force_close=True)
        async with aiohttp.ClientSession(connector=connector) as session, session.post(target.url, data=b"{}") as r:
            assert r.status == 200
        got = receiver.next()
        assert got.path == "/in" and got.headers["host"] == f"hook.invalid:{port}"
    finally:
        receiver.close()

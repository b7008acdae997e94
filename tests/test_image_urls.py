"""``image_url`` inputs: data URLs decoded, http(s) fetched with the SSRF and size guards (real loopback server)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from imagegate.api.image_urls import ImageFetcher, is_public
from imagegate.core.errors import InvalidRequest, PayloadTooLarge

BODY = b"\x89PNG\r\n\x1a\n" + b"x" * 1000


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async def image(_r: web.Request) -> web.Response:
        return web.Response(body=BODY, content_type="image/png")

    async def redirect(_r: web.Request) -> web.Response:
        raise web.HTTPFound("/image.png")

    async def big(_r: web.Request) -> web.StreamResponse:  # no Content-Length: the cap applies while reading
        resp = web.StreamResponse()
        await resp.prepare(_r)
        for _ in range(10):
            await resp.write(b"y" * 1000)
        return resp

    app = web.Application()
    app.router.add_get("/image.png", image)
    app.router.add_get("/moved", redirect)
    app.router.add_get("/big", big)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    "address,public",
    [("8.8.8.8", True), ("127.0.0.1", False), ("10.1.2.3", False), ("192.168.0.1", False), ("169.254.169.254", False),
     ("100.64.0.1", False), ("::1", False), ("::ffff:127.0.0.1", False), ("fe80::1", False), ("0.0.0.0", False),
     ("224.0.0.1", False), ("2001:4860:4860::8888", True)],
)  # fmt: skip
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public(address) is public


async def test_loopback_is_refused_by_default(server: str) -> None:
    async with ImageFetcher(max_bytes=10_000, allow_private=False) as f:
        with pytest.raises(InvalidRequest) as info:
            await f.load(server + "/image.png", "messages[0].content[1].image_url")
    assert info.value.param == "messages[0].content[1].image_url"
    assert "non-public" in info.value.message


async def test_a_name_resolving_to_loopback_is_refused(server: str) -> None:
    url = server.replace("127.0.0.1", "localhost") + "/image.png"
    async with ImageFetcher(max_bytes=10_000, allow_private=False) as f:
        with pytest.raises(InvalidRequest) as info:
            await f.load(url, "img")
    assert "non-public" in info.value.message and info.value.param == "img"


async def test_allowed_by_the_setting_and_redirects_followed(server: str) -> None:
    async with ImageFetcher(max_bytes=10_000, allow_private=True) as f:
        assert await f.load(server + "/image.png", "img") == BODY
        assert await f.load(server + "/moved", "img") == BODY


async def test_size_cap_while_reading(server: str) -> None:
    async with ImageFetcher(max_bytes=5_000, allow_private=True) as f:
        with pytest.raises(PayloadTooLarge):
            await f.load(server + "/big", "img")
        with pytest.raises(PayloadTooLarge):
            await f.load("data:image/png;base64," + base64.b64encode(b"z" * 6000).decode(), "img")


async def test_data_urls_and_bad_schemes() -> None:
    async with ImageFetcher(max_bytes=10_000, allow_private=False) as f:
        assert await f.load("data:image/png;base64," + base64.b64encode(BODY).decode(), "img") == BODY
        for bad in ("data:image/png,rawtext", "data:image/png;base64,!!!", "file:///etc/passwd", "ftp://x/y"):
            with pytest.raises(InvalidRequest) as info:
                await f.load(bad, "img")
            assert info.value.param == "img"

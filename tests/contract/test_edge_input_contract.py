"""Contract: hostile or odd input found in the review gets a 400 naming the parameter, never a 500 or a 502."""

from __future__ import annotations

import httpx
import orjson
import pytest

from tests.contract.test_bad_input_contract import assert_error
from tests.contract.test_images_contract import MODEL, png


def _generate(server, **body: object) -> httpx.Response:
    return httpx.post(server.url + "/v1/images/generations", json={"model": MODEL, "prompt": "x", **body}, timeout=30)


def test_a_size_with_thousands_of_digits_is_a_400(server) -> None:
    err = assert_error(_generate(server, size="9" * 5000 + "x1"), 400, param="size")
    assert len(err["message"]) < 400  # the value is not echoed whole
    assert_error(_generate(server, size="1x" + "9" * 5000), 400, param="size")
    assert_error(_generate(server, aspect_ratio="9" * 5000 + ":1"), 400, param="aspect_ratio")


@pytest.mark.parametrize("size", ["4x4", "3x24", "16x2", "1x1", "63x1024"])
def test_sizes_below_the_minimum_are_a_400_not_a_502(server, size: str) -> None:
    err = assert_error(_generate(server, size=size), 400, param="size")
    assert "at least" in err["message"]


@pytest.mark.parametrize("price", [1e303, float("1e20"), -1])
def test_max_price_out_of_range_is_a_400(server, price: float) -> None:
    err = assert_error(_generate(server, provider={"max_price": price}), 400, param="provider.max_price")
    assert "max_price" in err["message"]


def test_max_price_out_of_range_in_an_edit_form_is_a_400(server) -> None:
    r = httpx.post(
        server.url + "/v1/images/edits",
        data={"model": MODEL, "prompt": "x", "provider": orjson.dumps({"max_price": 1e303}).decode()},
        files={"image": ("a.png", png(64, 64), "image/png")},
        timeout=30,
    )
    assert_error(r, 400, param="provider.max_price")


def test_a_300_character_boundary_is_a_400(server) -> None:
    boundary = "b" * 300
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\n{MODEL}\r\n--{boundary}--\r\n'
    ).encode()
    r = httpx.post(
        server.url + "/v1/images/edits",
        content=body,
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    err = assert_error(r, 400)
    assert "boundary" in err["message"]


def test_a_body_without_its_closing_boundary_says_truncated(server) -> None:
    body = (
        b'--zz\r\nContent-Disposition: form-data; name="model"\r\n\r\n'
        + MODEL.encode()
        + b'\r\n--zz\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n'
        b"Content-Type: image/png\r\n\r\n" + png(64, 64)
    )
    r = httpx.post(
        server.url + "/v1/images/edits", content=body, headers={"content-type": "multipart/form-data; boundary=zz"}
    )
    err = assert_error(r, 400)
    assert "truncated" in err["message"]
    assert "missing" not in err["message"].lower() or "boundary" in err["message"]


def test_too_many_pixels_in_one_request_is_refused_before_decoding(server) -> None:
    # server: 40 M pixels per image (conftest); the default budget per request is 128 M pixels.
    from tests.contract.test_bad_input_contract import _bomb_png

    images = [("image[]", (f"b{i}.png", _bomb_png(6000, 6000), "image/png")) for i in range(4)]  # 144 M in all
    r = httpx.post(server.url + "/v1/images/edits", data={"model": MODEL, "prompt": "x"}, files=images, timeout=30)
    err = assert_error(r, 400, param="image")
    assert "per request" in err["message"]

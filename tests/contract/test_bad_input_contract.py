"""Contract: bad input gets a clear 4xx in the OpenAI error shape (and the right SDK exception), never a 500."""

from __future__ import annotations

import io
import zlib

import httpx
import openai
import pytest
from openai import OpenAI
from PIL import Image

from tests.contract.test_images_contract import MODEL, png


def assert_error(resp: httpx.Response, status: int, code: str = "INVALID_REQUEST", param: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert set(err) >= {"message", "type", "param", "code"}
    assert err["code"] == code
    assert err["message"]
    if param is not None:
        assert err["param"] == param
    return err


def test_malformed_json(server) -> None:
    r = httpx.post(
        server.url + "/v1/images/generations",
        content=b'{"model": "x", "prompt": ',
        headers={"content-type": "application/json"},
    )
    assert_error(r, 400)


def test_json_not_an_object(server) -> None:
    r = httpx.post(server.url + "/v1/images/generations", json=["a", "b"])
    assert_error(r, 400)


def test_empty_body(server) -> None:
    r = httpx.post(server.url + "/v1/images/generations", headers={"content-type": "application/json"})
    assert_error(r, 400)


@pytest.mark.parametrize(
    "field,value",
    [
        ("n", "three"),
        ("n", 1.5),
        ("n", True),
        ("prompt", 42),
        ("size", 1024),
        ("output_compression", "high"),
        ("response_format", "binary"),
        ("output_format", "bmp"),
        ("seed", "abc"),
        ("quality", "ultra"),
    ],
)
def test_wrong_types_and_values(client: OpenAI, field: str, value: object) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        client.images.generate(model=MODEL, prompt="x", extra_body={field: value})
    assert exc.value.body["param"] == field
    assert exc.value.body["code"] == "INVALID_REQUEST"


@pytest.mark.parametrize("n", [0, -1, 11])
def test_n_out_of_range(client: OpenAI, n: int) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        client.images.generate(model=MODEL, prompt="x", n=n)
    assert exc.value.body["param"] == "n"


def test_missing_and_empty_prompt(server, client: OpenAI) -> None:
    assert_error(httpx.post(server.url + "/v1/images/generations", json={"model": MODEL}), 400, param="prompt")
    with pytest.raises(openai.BadRequestError):
        client.images.generate(model=MODEL, prompt="   ")


def test_oversized_prompt(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        client.images.generate(model=MODEL, prompt="x" * 40_000)
    assert "too long" in exc.value.message


def test_unknown_model(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as exc:
        client.images.generate(model="no-such-model", prompt="x")
    assert exc.value.body["code"] == "MODEL_NOT_FOUND"
    assert exc.value.body["message"] == "Model 'no-such-model' not found"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


@pytest.mark.parametrize("size", ["0x0", "-5x100", "axb", "100000x100000", "1x9000", "1024x"])
def test_impossible_sizes(client: OpenAI, size: str) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        client.images.generate(model=MODEL, prompt="x", size=size)
    assert exc.value.body["param"] == "size"


def test_bad_resolution(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        client.images.generate(model=MODEL, prompt="x", extra_body={"resolution": "8K"})
    assert "1K" in exc.value.message


def test_malformed_multipart(server) -> None:
    r = httpx.post(
        server.url + "/v1/images/edits",
        content=b"--zzz\r\nnot a part",
        headers={"content-type": "multipart/form-data; boundary=zzz"},
    )
    assert_error(r, 400)
    r = httpx.post(server.url + "/v1/images/edits", content=b"abc", headers={"content-type": "multipart/form-data"})
    assert_error(r, 400)


def test_edit_without_image(server) -> None:
    r = httpx.post(server.url + "/v1/images/edits", data={"model": MODEL, "prompt": "x"}, files={"unused": ("", b"")})
    assert r.status_code == 400


def test_oversized_upload_is_refused(server) -> None:
    big = b"\x89PNG" + b"0" * (4 * 1024 * 1024)
    r = httpx.post(
        server.url + "/v1/images/edits",
        data={"model": MODEL, "prompt": "x"},
        files={"image": ("big.png", big, "image/png")},
    )
    assert_error(r, 413)


def test_oversized_upload_without_content_length(server) -> None:
    def body():
        yield b'--b\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n'
        for _ in range(64):
            yield b"0" * 65536
        yield b"\r\n--b--\r\n"

    r = httpx.post(
        server.url + "/v1/images/edits", content=body(), headers={"content-type": "multipart/form-data; boundary=b"}
    )
    assert_error(r, 413)


def test_non_image_upload(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        client.images.edit(model=MODEL, image=("notes.txt", b"hello, not an image", "text/plain"), prompt="x")
    assert exc.value.body["param"] == "image"


def test_truncated_image(client: OpenAI) -> None:
    data = png(256, 256)
    with pytest.raises(openai.BadRequestError):
        client.images.edit(model=MODEL, image=("cut.png", data[: len(data) // 2], "image/png"), prompt="x")


def _bomb_png(width: int, height: int) -> bytes:
    """A valid, tiny PNG that declares a huge pixel area (compressed zero rows)."""
    import struct

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    raw = zlib.compress(b"\x00" * (width + 1) * 64, 9)  # only a few rows: header check must refuse first
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def test_decompression_bomb(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        client.images.edit(model=MODEL, image=("bomb.png", _bomb_png(20000, 20000), "image/png"), prompt="x")
    assert "pixel" in exc.value.message.lower()


def test_mask_size_mismatch(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        client.images.edit(
            model=MODEL, image=("a.png", png(64, 64), "image/png"), mask=("m.png", png(32, 32), "image/png"), prompt="x"
        )
    assert exc.value.body["param"] == "mask"


def test_too_many_images(client: OpenAI) -> None:
    images = [(f"i{i}.png", png(8, 8), "image/png") for i in range(17)]
    with pytest.raises(openai.BadRequestError) as exc:
        client.images.edit(model=MODEL, image=images, prompt="x")
    assert exc.value.body["param"] == "image"


def test_forced_provider_offline_is_a_400_not_the_placeholder(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        client.images.generate(model="vertex/" + MODEL, prompt="x", size="256x256", response_format="b64_json")
    assert exc.value.body["param"] == "model"
    assert "'vertex' is not configured" in exc.value.message


def test_forced_unknown_provider(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.images.generate(model="nosuchprovider/" + MODEL, prompt="x")


def test_unknown_route_is_openai_shaped(server) -> None:
    assert_error(httpx.get(server.url + "/v1/nothing-here"), 404, code="NOT_FOUND")


def test_server_never_logs_500(server) -> None:
    assert "Traceback" not in server.output()


def test_gif_input_accepted(client: OpenAI) -> None:
    buf = io.BytesIO()
    Image.new("P", (16, 16)).save(buf, format="GIF")
    res = client.images.edit(
        model=MODEL, image=("a.gif", buf.getvalue(), "image/gif"), prompt="x", response_format="b64_json"
    )
    assert res.data

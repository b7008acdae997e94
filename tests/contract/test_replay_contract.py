"""Record / replay / mock through a real ``imagegate serve`` process, driven by the openai SDK."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator

import httpx
import openai
import pytest
from openai import OpenAI
from PIL import Image

from tests.helpers_server import ServerProcess

MODEL = "gemini-3-pro-image"
KEYS = ("key-alpha", "key-beta")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("replay") / "data", env={"IMAGEGATE_API_KEYS": ",".join(KEYS)})
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def client(gateway: ServerProcess) -> OpenAI:
    return OpenAI(base_url=gateway.url + "/v1", api_key=KEYS[0], max_retries=0, timeout=30)


def _gen(client: OpenAI, mode: str, match: str | None = None, **params):  # type: ignore[no-untyped-def]
    headers = {"X-Imagegate-Replay": mode}
    if match:
        headers["X-Imagegate-Replay-Match"] = match
    params.setdefault("model", MODEL)
    params.setdefault("response_format", "b64_json")
    raw = client.images.with_raw_response.generate(extra_headers=headers, **params)
    return raw.headers, raw.parse()


def test_record_then_replay_canonical(client: OpenAI) -> None:
    headers, recorded = _gen(client, "record", prompt="a lighthouse at dusk", size="1024x1024")
    rec_id = headers["x-imagegate-recording-id"]
    assert rec_id.startswith("rec_")
    meta = recorded.model_extra["metadata"]
    assert meta["provider"] == "placeholder" and meta["recording_id"] == rec_id and "replayed" not in meta
    # same canonical request (field order, response format and user differ): replayed, free, same image
    headers2, replayed = _gen(client, "replay-or-error", prompt="a lighthouse at dusk", size="1024x1024", user="u1")
    assert headers2["x-imagegate-recording-id"] == rec_id
    assert headers2["x-imagegate-cost-micros"] == "0"
    meta2 = replayed.model_extra["metadata"]
    assert meta2["replayed"] is True and meta2["cost"] == 0 and meta2["cost_micros"] == 0
    assert meta2["recording_id"] == rec_id and meta2["request_id"] != meta["request_id"]
    assert replayed.data[0].b64_json == recorded.data[0].b64_json
    # the same recording answers as a URL when asked so
    _h, as_url = _gen(client, "replay-or-error", prompt="a lighthouse at dusk", size="1024x1024", response_format="url")
    image = httpx.get(as_url.data[0].url, timeout=10)
    assert image.status_code == 200 and image.content == base64.b64decode(recorded.data[0].b64_json)


def test_replay_or_error_without_recording_is_404(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        _gen(client, "replay-or-error", prompt="never recorded anywhere")
    assert info.value.body["code"] == "RECORDING_NOT_FOUND"  # type: ignore[index]


def test_body_match_is_byte_exact(gateway: ServerProcess) -> None:
    auth = {"Authorization": f"Bearer {KEYS[0]}"}
    body = b'{"model": "gemini-3-pro-image", "prompt": "byte exact", "response_format": "b64_json"}'
    reordered = b'{"prompt": "byte exact", "model": "gemini-3-pro-image", "response_format": "b64_json"}'
    url = gateway.url + "/v1/images/generations"
    ctype = {"Content-Type": "application/json"}
    rec = httpx.post(url, content=body, headers={**auth, **ctype, "X-Imagegate-Replay": "record"}, timeout=30)
    assert rec.status_code == 200
    match = {**auth, **ctype, "X-Imagegate-Replay": "replay-or-error", "X-Imagegate-Replay-Match": "body"}
    same = httpx.post(url, content=body, headers=match, timeout=30)
    assert (
        same.status_code == 200 and same.headers["x-imagegate-recording-id"] == rec.headers["x-imagegate-recording-id"]
    )
    other = httpx.post(url, content=reordered, headers=match, timeout=30)
    assert other.status_code == 404 and other.json()["error"]["code"] == "RECORDING_NOT_FOUND"
    canonical = {**match, "X-Imagegate-Replay-Match": "canonical"}
    assert httpx.post(url, content=reordered, headers=canonical, timeout=30).status_code == 200


def test_fields_and_id_matching(client: OpenAI) -> None:
    headers, _ = _gen(client, "record", prompt="fields match prompt", size="1024x1024")
    rec_id = headers["x-imagegate-recording-id"]
    # only the prompt has to match
    h2, r2 = _gen(client, "replay-or-error", "fields:prompt", prompt="fields match prompt", size="1536x1024")
    assert h2["x-imagegate-recording-id"] == rec_id and r2.model_extra["metadata"]["replayed"] is True
    with pytest.raises(openai.NotFoundError):
        _gen(client, "replay-or-error", "fields:prompt,size", prompt="fields match prompt", size="1536x1024")
    # a pinned recording answers whatever the request says
    h3, _r3 = _gen(client, "replay-or-error", f"id:{rec_id}", prompt="something else entirely")
    assert h3["x-imagegate-recording-id"] == rec_id
    with pytest.raises(openai.NotFoundError):
        _gen(client, "replay-or-error", "id:rec_doesnotexist", prompt="x")


def test_mock_any_model_requested_size_and_format(client: OpenAI) -> None:
    headers, answer = _gen(
        client, "mock", model="no-such-model-anywhere", prompt="m", size="640x480", output_format="webp", n=2
    )
    assert headers["x-imagegate-cost-micros"] == "0" and headers["x-imagegate-provider"] == "mock"
    assert len(answer.data) == 2
    for item in answer.data:
        with Image.open(io.BytesIO(base64.b64decode(item.b64_json))) as img:
            assert img.format == "WEBP" and img.size == (640, 480)
    meta = answer.model_extra["metadata"]
    assert meta["mocked"] is True and meta["cost"] == 0 and meta["model"] == "no-such-model-anywhere"
    # a catalog model is sized by its own size mapping (16:9 at 1K)
    _h, mapped = _gen(client, "mock", prompt="m", size="16:9", output_format="jpeg")
    with Image.open(io.BytesIO(base64.b64decode(mapped.data[0].b64_json))) as img:
        assert img.format == "JPEG" and img.width > img.height


def test_fallback_modes(client: OpenAI, gateway: ServerProcess) -> None:
    _h, mocked = _gen(client, "replay-or-mock", prompt="fallback prompt one")
    assert mocked.model_extra["metadata"]["mocked"] is True
    h_live, live = _gen(client, "replay-or-live", prompt="fallback prompt two")
    assert live.model_extra["metadata"]["provider"] == "placeholder" and "x-imagegate-recording-id" not in h_live
    with pytest.raises(openai.NotFoundError):  # replay-or-live did not record
        _gen(client, "replay-or-error", prompt="fallback prompt two")
    h_rec, _ = _gen(client, "replay-or-record", prompt="fallback prompt three")
    h_again, again = _gen(client, "replay-or-record", prompt="fallback prompt three")
    assert h_again["x-imagegate-recording-id"] == h_rec["x-imagegate-recording-id"]
    assert again.model_extra["metadata"]["replayed"] is True


def test_recordings_list_delete_and_key_scope(client: OpenAI, gateway: ServerProcess) -> None:
    headers, _ = _gen(client, "record", prompt="to be deleted")
    rec_id = headers["x-imagegate-recording-id"]
    auth = {"Authorization": f"Bearer {KEYS[0]}"}
    listed = httpx.get(gateway.url + "/v1/recordings", headers=auth, timeout=10).json()
    assert listed["object"] == "list" and rec_id in [r["id"] for r in listed["data"]]
    other = OpenAI(base_url=gateway.url + "/v1", api_key=KEYS[1], max_retries=0)
    with pytest.raises(openai.NotFoundError):  # another key sees none of this key's recordings
        _gen(other, "replay-or-error", f"id:{rec_id}", prompt="to be deleted")
    other_list = httpx.get(gateway.url + "/v1/recordings", headers={"Authorization": f"Bearer {KEYS[1]}"}).json()
    assert rec_id not in [r["id"] for r in other_list["data"]]
    assert (
        httpx.delete(
            gateway.url + f"/v1/recordings/{rec_id}", headers={"Authorization": f"Bearer {KEYS[1]}"}
        ).status_code
        == 404
    )
    gone = httpx.delete(gateway.url + f"/v1/recordings/{rec_id}", headers=auth, timeout=10)
    assert gone.status_code == 200 and gone.json()["deleted"] is True
    with pytest.raises(openai.NotFoundError):
        _gen(client, "replay-or-error", f"id:{rec_id}", prompt="to be deleted")
    assert httpx.delete(gateway.url + f"/v1/recordings/{rec_id}", headers=auth).status_code == 404


@pytest.mark.parametrize(
    ("mode", "match"),
    [
        ("sometimes", None),
        ("replay-or-error", "fields:"),
        ("replay-or-error", "id:"),
        ("replay-or-error", "magic"),
        ("replay-or-error", "fields:no_such_field"),
    ],
)
def test_bad_replay_headers_are_400(client: OpenAI, mode: str, match: str | None) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        _gen(client, mode, match, prompt="bad headers")
    assert info.value.body["param"] in ("X-Imagegate-Replay", "X-Imagegate-Replay-Match")  # type: ignore[index]


def test_edits_record_and_replay_by_image_content(client: OpenAI) -> None:
    def png(color: tuple[int, int, int]) -> bytes:
        buf = io.BytesIO()
        Image.new("RGB", (64, 64), color).save(buf, format="PNG")
        return buf.getvalue()

    def edit(mode: str, image: bytes, match: str = "canonical"):  # type: ignore[no-untyped-def]
        return client.images.with_raw_response.edit(
            model=MODEL,
            image=("in.png", image, "image/png"),
            prompt="make it night",
            response_format="b64_json",
            extra_headers={"X-Imagegate-Replay": mode, "X-Imagegate-Replay-Match": match},
        )

    rec = edit("record", png((200, 10, 10)))
    rec_id = rec.headers["x-imagegate-recording-id"]
    same = edit("replay-or-error", png((200, 10, 10)))
    assert same.headers["x-imagegate-recording-id"] == rec_id
    assert same.parse().data[0].b64_json == rec.parse().data[0].b64_json
    body_match = edit("replay-or-error", png((200, 10, 10)), "body")  # same fields and file bytes, new boundary
    assert body_match.headers["x-imagegate-recording-id"] == rec_id
    with pytest.raises(openai.NotFoundError):  # another input image is another request
        edit("replay-or-error", png((10, 200, 10)))

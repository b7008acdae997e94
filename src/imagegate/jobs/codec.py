"""An ``ImageRequest`` as JSON and back (jobs survive restarts), and its canonical form (replay matching)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import asdict
from typing import Any

import orjson

from imagegate.core.types import ImageRequest, InputImage, ProviderPreferences

# Not part of what was asked: who asked, how the answer is delivered, and the request's own id.
_NOT_CANONICAL = ("request_id", "key_id", "response_format", "user", "batch", "preferences")


def _image_json(image: InputImage) -> dict[str, Any]:
    return {
        "data": base64.b64encode(image.data).decode("ascii"),
        "mime_type": image.mime_type,
        "width": image.width,
        "height": image.height,
        "filename": image.filename,
    }


def _image_from(data: dict[str, Any]) -> InputImage:
    return InputImage(
        data=base64.b64decode(data["data"]),
        mime_type=data["mime_type"],
        width=data["width"],
        height=data["height"],
        filename=data.get("filename"),
    )


def dump_request(request: ImageRequest) -> bytes:
    """The whole request as JSON bytes, input images as base64."""
    out: dict[str, Any] = {}
    for name in ImageRequest.__slots__:  # type: ignore[attr-defined]
        value = getattr(request, name)
        if name == "images":
            value = [_image_json(i) for i in value]
        elif name == "mask":
            value = _image_json(value) if value is not None else None
        elif name == "preferences":
            value = asdict(value) if value is not None else None
        out[name] = value
    return orjson.dumps(out)


def load_request(raw: bytes) -> ImageRequest:
    data = orjson.loads(raw)
    data["images"] = [_image_from(i) for i in data.get("images") or []]
    data["mask"] = _image_from(data["mask"]) if data.get("mask") else None
    if data.get("preferences"):
        data["preferences"] = ProviderPreferences(**data["preferences"])
    known = set(ImageRequest.__slots__)  # type: ignore[attr-defined]
    return ImageRequest(**{k: v for k, v in data.items() if k in known})


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical(request: ImageRequest, model_id: str) -> dict[str, Any]:
    """What was asked, after validation: the resolved model, prompt, parameters and a digest of each input image."""
    out: dict[str, Any] = {}
    for name in ImageRequest.__slots__:  # type: ignore[attr-defined]
        if name in _NOT_CANONICAL:
            continue
        value = getattr(request, name)
        if name == "images":
            value = [_digest(i.data) for i in value]
        elif name == "mask":
            value = _digest(value.data) if value is not None else None
        out[name] = value
    out["model"] = model_id
    return out


def hash_json(value: Any) -> str:
    return _digest(orjson.dumps(value, option=orjson.OPT_SORT_KEYS))


def canonical_hash(canon: dict[str, Any]) -> str:
    return hash_json(canon)


def fields_hash(canon: dict[str, Any], names: list[str]) -> str:
    """The hash of the chosen fields only (``X-Imagegate-Replay-Match: fields:a,b``)."""
    return hash_json({n: canon.get(n) for n in names})


def body_hash(body: bytes) -> str:
    return _digest(body)


def form_digest_source(form: Any) -> bytes:
    """A multipart form as sent, independent of its boundary: fields in order, then each file's field, name and
    bytes' digest (``body`` matching for edits)."""
    parts = [orjson.dumps(list(form.fields.items()))]
    for f in form.files:
        parts.append(orjson.dumps([f.field, f.filename, _digest(f.data)]))
    return b"\n".join(parts)

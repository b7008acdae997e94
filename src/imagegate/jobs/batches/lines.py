"""One line of a batch input file -> a validated ``ImageRequest``; the whole file checked and estimated in one
streaming pass (custom ids are checked for duplicates on disk: nothing in memory grows with the file)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from imagegate.api.parsing import Limits, build_request
from imagegate.core.errors import GatewayError
from imagegate.core.types import ImageRequest, InputImage
from imagegate.jobs.batches.eligible import provider_plan
from imagegate.jobs.batches.seen import SeenIds
from imagegate.media.inspect import inspect_image
from imagegate.pipeline import Gateway

ENDPOINTS = {"/v1/images/generations": "generate", "/v1/images/edits": "edit"}
MAX_ERRORS = 100  # validation errors listed on a failed batch
MAX_CUSTOM_ID = 256


class LineError(Exception):
    def __init__(self, message: str, code: str = "invalid_request", param: str | None = None) -> None:
        super().__init__(message)
        self.message, self.code, self.param = message, code, param


@dataclass(slots=True)
class BatchLine:
    number: int
    custom_id: str
    request: ImageRequest


def iter_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """``(line number from 1, line)`` for every non-blank line, read as a stream."""
    for number, _offset, line in iter_lines_at(path):
        yield number, line


def iter_lines_at(path: Path) -> Iterator[tuple[int, int, bytes]]:
    """``(line number, byte offset, line)`` for every non-blank line."""
    offset = 0
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            line = raw.strip()
            if line:
                yield number, offset, line
            offset += len(raw)


def line_at(path: Path, offset: int) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(offset)
        return fh.readline().strip()


def _data_url_image(value: Any, field_name: str, max_pixels: int) -> InputImage:
    if not isinstance(value, str) or not value.startswith("data:") or ";base64," not in value:
        raise LineError(f"'{field_name}' must be a data URL (data:image/png;base64,...) in a batch.", param=field_name)
    try:
        data = base64.b64decode(value.split(";base64,", 1)[1], validate=True)
    except (binascii.Error, ValueError):
        raise LineError(f"'{field_name}' is not valid base64.", param=field_name) from None
    return inspect_image(data, max_pixels=max_pixels, filename=None, field=field_name)


def parse_line(raw: bytes, number: int, endpoint: str, limits: Limits, max_pixels: int) -> BatchLine:
    """Validate one line (raises ``LineError`` or a ``GatewayError`` naming what is wrong)."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise LineError(f"Line {number} is not valid JSON: {exc}", code="invalid_json") from None
    if not isinstance(obj, dict):
        raise LineError(f"Line {number} is not a JSON object.", code="invalid_json")
    custom_id = obj.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id or len(custom_id) > MAX_CUSTOM_ID:
        raise LineError(f"Line {number}: 'custom_id' must be a non-empty string.", param="custom_id")
    if obj.get("method") != "POST":
        raise LineError(f"Line {number}: 'method' must be \"POST\".", param="method")
    if obj.get("url") != endpoint:
        raise LineError(f"Line {number}: 'url' must be the batch's endpoint {endpoint!r}.", param="url")
    body = obj.get("body")
    if not isinstance(body, dict):
        raise LineError(f"Line {number}: 'body' must be a JSON object.", param="body")
    operation = ENDPOINTS[endpoint]
    images: list[InputImage] = []
    mask = None
    if operation == "edit":
        raw_images = body.pop("image", None)
        raw_images = raw_images if isinstance(raw_images, list) else [raw_images] if raw_images else []
        if not raw_images:
            raise LineError(f"Line {number}: an edit needs 'image' (a data URL or a list of them).", param="image")
        images = [_data_url_image(v, "image", max_pixels) for v in raw_images]
        if body.get("mask") is not None:
            mask = _data_url_image(body.pop("mask"), "mask", max_pixels)
    request = build_request(body, operation=operation, limits=limits, images=images, mask=mask)
    return BatchLine(number, custom_id, request)


@dataclass(slots=True)
class Validation:
    total: int = 0
    estimate_micros: int = 0  # at interactive prices (the emulated path)
    errors: list[dict[str, Any]] = field(default_factory=list)
    batch_estimate_micros: int = 0  # at the provider's batch prices, when every line can go there
    provider_models: set[str] = field(default_factory=set)  # provider model ids of those lines
    provider_ok: bool = True

    @property
    def provider_mode(self) -> bool:
        """Every line can run in the provider's batch mode, all on one model (a provider batch is per model)."""
        return self.provider_ok and self.total > 0 and len(self.provider_models) == 1


def validate_file(
    path: Path,
    endpoint: str,
    gateway: Gateway,
    limits: Limits,
    max_pixels: int,
    max_lines: int,
    use_provider: bool = False,
) -> Validation:
    """Check every line and price it with a dry run (and at batch prices when ``use_provider`` and the line can run
    in the provider's batch mode). Blocking: run it in a thread."""
    out = Validation(provider_ok=use_provider)
    with SeenIds() as seen:
        _check_lines(path, endpoint, gateway, limits, max_pixels, max_lines, out, seen, use_provider)
    if out.total == 0:
        out.errors.append({"code": "empty_file", "message": "The file holds no requests.", "param": None, "line": 0})
    return out


def _check_lines(
    path: Path,
    endpoint: str,
    gateway: Gateway,
    limits: Limits,
    max_pixels: int,
    max_lines: int,
    out: Validation,
    seen: SeenIds,
    use_provider: bool,
) -> None:

    def fail(number: int, message: str, code: str, param: str | None) -> None:
        if len(out.errors) < MAX_ERRORS:
            out.errors.append({"code": code, "message": message, "param": param, "line": number})

    for number, raw in iter_lines(path):
        out.total += 1
        if out.total > max_lines:
            fail(number, f"The file has more than {max_lines} requests.", "too_many_requests", None)
            break
        try:
            line = parse_line(raw, number, endpoint, limits, max_pixels)
            if not seen.add(line.custom_id):
                raise LineError(f"Line {number}: duplicate custom_id {line.custom_id!r}.", param="custom_id")
            out.estimate_micros += int(gateway.dry_run(line.request)["total_cost_micros"])
            if out.provider_ok:
                planned = provider_plan(gateway, line.request) if use_provider else None
                if planned is None:
                    out.provider_ok = False
                else:
                    out.provider_models.add(planned.offer.provider_model_id)
                    out.batch_estimate_micros += planned.candidate.estimated_cost_micros
        except LineError as exc:
            fail(number, exc.message, exc.code, exc.param)
        except GatewayError as exc:
            fail(number, f"Line {number}: {exc.message}", exc.code.lower(), exc.param)

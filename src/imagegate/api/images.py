"""``POST images/generations`` and ``POST images/edits`` (OpenAI-compatible)."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from imagegate.api.async_work import intercept
from imagegate.api.body import capped
from imagegate.api.disconnect import ClientGone, client_gone, until_disconnect
from imagegate.api.encode import PartsResponse, encode_answer
from imagegate.api.multipart import FormData, read_multipart
from imagegate.api.parsing import build_request, parse_stream
from imagegate.core.errors import InvalidRequest, PayloadTooLarge
from imagegate.core.types import ImageRequest
from imagegate.jobs.codec import form_digest_source
from imagegate.media.decode import Upload
from imagegate.media.inspect import check_mask


def _dry_run(request: Request) -> bool:
    if not request.scope.get("query_string"):  # the usual case: no query to parse
        return False
    value = request.query_params.get("dryRun") or request.query_params.get("dry_run")
    return value is not None and value.lower() in ("1", "true", "yes")


def _check_declared_length(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise InvalidRequest("Invalid Content-Length header.") from None
        if size > limit:
            raise PayloadTooLarge(f"Upload too large: {size} bytes, the limit is {limit} bytes.")


async def _read_json(request: Request, limit: int) -> dict:
    _check_declared_length(request, limit)
    body = b"".join([chunk async for chunk in capped(request.stream(), limit)])
    if not body:
        raise InvalidRequest("The request body is empty: expected a JSON object.")
    request.state.match_body = body  # X-Imagegate-Replay-Match: body
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return data


async def _respond(request: Request, image_request: ImageRequest, stream: bool = False) -> Response:
    services = request.app.state.services
    image_request.request_id = request.state.request_id
    image_request.key_id = request.state.key_id
    gateway = services.gateway
    principal = request.state.principal
    dry_run = _dry_run(request)
    if stream and not dry_run:
        from imagegate.api.image_stream import stream_images

        return await stream_images(request, image_request, principal)
    if dry_run:
        async with services.tenancy.hold(principal, image_request, dry_run=True):  # allowed models, key routing
            body = gateway.dry_run(image_request)
        return Response(
            orjson.dumps(body),
            media_type="application/json",
            headers={
                "X-Imagegate-Request-Id": image_request.request_id,
                "X-Imagegate-Provider": body["provider"],
                **(
                    {}
                    if body["total_cost_micros"] is None
                    else {"X-Imagegate-Cost-Micros": str(body["total_cost_micros"])}
                ),
            },
        )
    async with services.tenancy.hold(principal, image_request, dry_run=True):  # allowed models, key routing
        early = await intercept(request, image_request)  # async jobs, record / replay / mock (imagegate.jobs)
    if early is not None:
        return early
    async with services.tenancy.hold(principal, image_request) as hold:  # models, images/min, budget reservation
        try:
            answer = await until_disconnect(request, gateway.run(image_request))
        except ClientGone:  # the run logged the request as 499
            return client_gone(request, "before its answer was ready")
        hold.settle(answer.cost_micros)
    return PartsResponse(
        encode_answer(answer.body),
        headers={
            "X-Imagegate-Provider": answer.provider,
            "X-Imagegate-Request-Id": answer.request_id,
            "X-Imagegate-Cost-Micros": str(answer.cost_micros),
        },
    )


async def generations(request: Request) -> Response:
    services = request.app.state.services
    ctype = request.headers.get("content-type", "")
    if ctype and "json" not in ctype:
        raise InvalidRequest("images/generations expects a JSON body (Content-Type: application/json).")
    data = await _read_json(request, services.settings.max_upload_bytes)
    image_request = build_request(data, operation="generate", limits=services.limits)
    return await _respond(request, image_request, parse_stream(data))


async def edits(request: Request) -> Response:
    services = request.app.state.services
    settings = services.settings
    _check_declared_length(request, settings.max_upload_bytes)
    form: FormData = await read_multipart(
        request.headers.get("content-type", ""), request.stream(), max_bytes=settings.max_upload_bytes
    )
    request.state.match_body = form_digest_source(form)  # X-Imagegate-Replay-Match: body
    image_files = [f for f in form.files if f.field in ("image", "image[]")]
    mask_files = [f for f in form.files if f.field == "mask"]
    if not image_files:
        raise InvalidRequest(
            "Missing required parameter: 'image' (one 'image' or repeated 'image[]' files).", param="image"
        )
    if len(mask_files) > 1:
        raise InvalidRequest("Only one 'mask' file is allowed.", param="mask")
    stray = [f.field for f in form.files if f.field not in ("image", "image[]", "mask")]
    if stray:
        raise InvalidRequest(f"Unexpected file field(s): {', '.join(stray)}.", param=stray[0])
    if len(image_files) > settings.max_input_images:
        raise InvalidRequest(
            f"Too many images: {len(image_files)} given, the maximum is {settings.max_input_images}.", param="image"
        )
    # the fields first: a bad value is refused before any image is decoded
    image_request = build_request(dict(form.fields), operation="edit", limits=services.limits, form=True)
    uploads = [Upload(f.data, f.filename, "image") for f in image_files]
    uploads += [Upload(f.data, f.filename, "mask") for f in mask_files]
    decoded = await services.decoder.decode_all(uploads)
    image_request.images = decoded[: len(image_files)]
    image_request.mask = decoded[len(image_files)] if mask_files else None
    if image_request.mask is not None:
        check_mask(image_request.mask, image_request.images[0])
    return await _respond(request, image_request, parse_stream(dict(form.fields), form=True))

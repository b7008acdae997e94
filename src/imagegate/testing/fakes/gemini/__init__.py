"""A protocol-faithful fake of Google's image models on the Gemini API and on Vertex AI, with an OAuth token endpoint.

Serves what google-genai and our adapters send:
- Gemini API: ``POST /{v1beta|v1}/models/{model}:generateContent`` and ``:streamGenerateContent[?alt=sse]``, auth by
  ``x-goog-api-key`` (or ``?key=``): missing -> 403 PERMISSION_DENIED, wrong -> 400 with reason API_KEY_INVALID.
- Vertex AI: ``POST /{v1|v1beta1}/projects/{p}/locations/{l}/publishers/google/models/{m}:generateContent`` (and
  stream), auth by ``Authorization: Bearer`` with a token this fake issued (else 401 UNAUTHENTICATED).
- ``POST /token``: the service-account JWT-bearer grant (``oauth.py``).
- Batch mode and the Files API (``batch.py``): ``models/{m}:batchGenerateContent``, ``batches/{id}``, uploads.

Requests are validated like Google's parser does (``schema.py``: unknown fields, enums, roles, base64); answers carry
real PNG (or JPEG) bytes of the size asked, thought parts, text, the image with its ``thoughtSignature`` and
``usageMetadata`` (``responses.py``). Faults (``imagegate.testing.faults``) come in Google's error envelope:
rate_limited 429 RESOURCE_EXHAUSTED with RetryInfo, server_error 500 INTERNAL, unavailable 503 UNAVAILABLE,
content_policy 200 with finishReason IMAGE_SAFETY (or promptFeedback.blockReason), malformed 200 with a truncated
body, timeout and reset at the transport.

Run: ``python -m imagegate.testing.fakes.gemini --port 9101 --faults "p50=19.6,p95=35.6,time_scale=0.05"``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import web

from imagegate.testing.fakes.common import send_body, with_faults
from imagegate.testing.fakes.gemini import imagen
from imagegate.testing.fakes.gemini.batch import add_routes as add_batch_routes
from imagegate.testing.fakes.gemini.batch import create_batch
from imagegate.testing.fakes.gemini.oauth import new_service_account, public_key_pem, token_endpoint, verify_assertion
from imagegate.testing.fakes.gemini.responses import (
    Ask,
    ask_of,
    merge,
    refusal,
    success_chunks,
    truncated_body,
)
from imagegate.testing.fakes.gemini.responses import sse as sse_body
from imagegate.testing.fakes.gemini.schema import MODELS, RequestInvalid, check_semantics, normalize
from imagegate.testing.fakes.gemini.state import (
    STATE,
    GoogleFakeState,
    api_key_invalid,
    google_error,
    invalid_argument,
    overloaded,
    rate_limited,
    server_error,
    unauthenticated,
    unregistered_caller,
)
from imagegate.testing.faults import Decision, FaultInjector

__all__ = ["MODELS", "GoogleFakeState", "create_app", "new_service_account", "public_key_pem", "verify_assertion"]

METHODS = ("generateContent", "streamGenerateContent")


def _split_target(request: web.Request) -> tuple[str, str]:
    model, _, method = request.match_info["target"].partition(":")
    return model, method


def _answer(request: web.Request, payload: bytes, *, stream: bool, decision: Decision | None = None) -> Any:
    sse = stream and request.query.get("alt") == "sse"
    return send_body(
        request, payload, content_type="text/event-stream" if sse else "application/json", decision=decision
    )


async def gemini_generate(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    key = request.headers.get("x-goog-api-key") or request.query.get("key")
    if not key:
        return unregistered_caller()
    if key != state.api_key:
        return api_key_invalid()
    model, method = _split_target(request)
    if method == "predict" and model in imagen.IMAGEN:
        return await imagen.predict(request, state, model, vertex=False)
    if method == "batchGenerateContent":  # batch mode: batch.py
        return await create_batch(request, model)
    if method not in METHODS or model not in MODELS:
        version = request.match_info["version"]
        return google_error(
            404,
            "NOT_FOUND",
            f"models/{model} is not found for API version {version}, or is not "
            "supported for generateContent. Call ListModels to see the list of available models and "
            "their supported methods.",
        )
    return await _generate(request, state, model, method, vertex=False)


async def vertex_generate(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    auth = request.headers.get("Authorization", "")
    if not auth:
        return unauthenticated("CREDENTIALS_MISSING")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not state.token_valid(token.strip()):
        return unauthenticated()
    project, location = request.match_info["project"], request.match_info["location"]
    if state.project is not None and project != state.project:
        return google_error(
            403,
            "PERMISSION_DENIED",
            f"Permission 'aiplatform.endpoints.predict' denied on resource "
            f"'//aiplatform.googleapis.com/projects/{project}/locations/{location}/publishers/google/"
            f"models/{_split_target(request)[0]}' (or it may not exist).",
        )
    model, method = _split_target(request)
    if method == "predict" and model in imagen.IMAGEN and request.match_info["publisher"] == "google":
        return await imagen.predict(request, state, model, vertex=True)
    if method not in METHODS or model not in MODELS or request.match_info["publisher"] != "google":
        return google_error(
            404,
            "NOT_FOUND",
            f"Publisher Model `projects/{project}/locations/{location}/publishers/"
            f"{request.match_info['publisher']}/models/{model}` was not found or your project does "
            "not have access to it. Please ensure you are using a valid model version. For more "
            "information, see: https://cloud.google.com/vertex-ai/generative-ai/docs/learn/"
            "model-versions",
        )
    return await _generate(request, state, model, method, vertex=True)


async def _generate(
    request: web.Request, state: GoogleFakeState, model: str, method: str, *, vertex: bool
) -> web.StreamResponse:
    record: dict[str, Any] = {
        "api": "vertex" if vertex else "gemini",
        "model": model,
        "method": method,
        "path": request.path,
        "query": dict(request.query),
        "body": None,
        "request": None,
    }
    state.seen.append(record)
    try:
        record["body"] = body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return invalid_argument("Invalid JSON payload received. Unexpected token.")
    try:
        record["request"] = req = normalize(body, vertex=vertex)
        images = check_semantics(req, MODELS[model], vertex=vertex)
    except RequestInvalid as exc:
        return invalid_argument(exc.message, exc.field_path)
    ask = ask_of(req, model, MODELS[model], images, vertex=vertex)
    stream = method == "streamGenerateContent"

    def render_fault(kind: str, injector: FaultInjector) -> web.StreamResponse:
        return _fault(request, state, ask, kind, injector, stream=stream)

    async def handler(decision: Decision) -> web.StreamResponse:
        chunks = await success_chunks(state, ask)
        if not stream:
            return await _answer(request, orjson.dumps(merge(chunks)), stream=False, decision=decision)
        payload = sse_body(chunks) if request.query.get("alt") == "sse" else orjson.dumps(chunks)
        return await _answer(request, payload, stream=True, decision=decision)

    task = asyncio.current_task()
    if task is not None:
        state.inflight.add(task)
    try:
        return await with_faults(request, state, render_fault, handler)
    finally:
        state.inflight.discard(task)


def _fault(
    request: web.Request, state: GoogleFakeState, ask: Ask, kind: str, injector: FaultInjector, *, stream: bool
) -> web.StreamResponse:
    if kind == "rate_limited":
        return rate_limited(injector.profile.retry_after_s, ask.vertex)
    if kind == "server_error":
        return server_error()
    if kind == "unavailable":
        return overloaded()
    if kind == "malformed":
        return web.Response(body=truncated_body(ask), content_type="application/json")
    if kind == "content_policy":
        body = refusal(state, ask)
        sse = stream and request.query.get("alt") == "sse"
        payload = sse_body([body]) if sse else orjson.dumps([body] if stream else body)
        return web.Response(body=payload, content_type="text/event-stream" if sse else "application/json")
    return server_error()  # a kind this fake does not know: fail loudly but in Google's shape


def create_app(state: GoogleFakeState | None = None) -> web.Application:
    app = web.Application(client_max_size=200 * 1024 * 1024)
    app[STATE] = state or GoogleFakeState()
    app.router.add_post("/{version:v1beta|v1}/models/{target}", gemini_generate)
    app.router.add_post(
        "/{version:v1beta1|v1}/projects/{project}/locations/{location}/publishers/{publisher}/models/{target}",
        vertex_generate,
    )
    app.router.add_post("/token", token_endpoint)
    add_batch_routes(app)
    app.on_shutdown.append(_cancel_inflight)
    return app


async def _cancel_inflight(app: web.Application) -> None:
    """End handlers that are still waiting (an injected ``timeout`` waits an hour) so that shutdown is prompt."""
    for task in list(app[STATE].inflight):
        task.cancel()

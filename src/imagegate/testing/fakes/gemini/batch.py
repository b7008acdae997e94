"""The Gemini API's batch mode and Files API, as google-genai's ``client.files`` and ``client.batches`` speak them.

- ``POST /upload/v1beta/files`` (resumable ``start``, answering ``x-goog-upload-url``), then ``POST`` to that URL
  with ``upload, finalize``: the file resource ``{"file": {...}}``; ``GET /v1beta/files/{id}``;
  ``GET /v1beta/files/{id}:download?alt=media`` (also under ``/download/``): its bytes.
- ``POST /v1beta/models/{model}:batchGenerateContent`` with ``batch.inputConfig`` = ``{"fileName": "files/.."}`` (a
  JSONL of ``{"key", "request"}``) or inline ``{"requests": {"requests": [{"request", "metadata": {"key"}}]}}``:
  a long-running operation ``{"name": "batches/..", "metadata": {"@type", "state": "BATCH_STATE_PENDING", ...}}``.
- ``GET /v1beta/batches/{id}``: the operation; ``pending_polls`` polls answer PENDING/RUNNING, then the batch is
  ``BATCH_STATE_SUCCEEDED`` with ``output.responsesFile`` (file input) or ``output.inlinedResponses``.
  ``POST /v1beta/batches/{id}:cancel``.

Each request is validated and answered exactly as ``generateContent`` would (a refused or invalid one becomes an
``error`` entry for its key). ``seen_batch_requests`` counts the requests run in batches.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from imagegate.testing.fakes.gemini.responses import ask_of, merge, refusal, success_chunks
from imagegate.testing.fakes.gemini.schema import MODELS, RequestInvalid, check_semantics, normalize
from imagegate.testing.fakes.gemini.state import STATE, GoogleFakeState, api_key_invalid, google_error

BATCH_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch"


@dataclass
class BatchWorld:
    files: dict[str, bytes] = field(default_factory=dict)  # "files/x" -> content
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)  # "files/x" -> File resource
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)  # upload id -> pending resource
    batches: dict[str, dict[str, Any]] = field(default_factory=dict)  # "batches/x" -> operation
    polls: dict[str, int] = field(default_factory=dict)
    pending_polls: int = 1  # GETs that still see the batch running
    seen_batch_requests: int = 0
    refuse_keys: set[str] = field(default_factory=set)  # keys answered with a content-policy refusal


WORLD = web.AppKey("gemini_batch_world", BatchWorld)


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _auth(request: web.Request) -> web.Response | None:
    key = request.headers.get("x-goog-api-key") or request.query.get("key")
    if key != request.app[STATE].api_key:
        return api_key_invalid()
    return None


async def upload(request: web.Request) -> web.StreamResponse:
    world = request.app[WORLD]
    command = request.headers.get("x-goog-upload-command", "")
    if command == "start":  # the upload URL it answers is the credential for the rest, as with Google's
        if (bad := _auth(request)) is not None:
            return bad
        meta = orjson.loads(await request.read() or b"{}").get("file") or {}
        upload_id = secrets.token_hex(8)
        name = meta.get("name") or f"files/{secrets.token_hex(6)}"
        world.uploads[upload_id] = {
            "name": name,
            "mimeType": request.headers.get(
                "x-goog-upload-header-content-type", meta.get("mimeType", "application/octet-stream")
            ),
            "displayName": meta.get("displayName"),
        }
        url = f"{request.scheme}://{request.host}{request.path}?upload_id={upload_id}"
        return web.json_response({}, headers={"x-goog-upload-url": url, "x-goog-upload-status": "active"})
    pending = world.uploads.get(request.query.get("upload_id", ""))
    if pending is None or "upload" not in command:
        return google_error(400, "INVALID_ARGUMENT", "Unknown upload session.")
    data = await request.read()
    name = pending["name"]
    world.files[name] = world.files.get(name, b"") + data
    if "finalize" not in command:
        return web.json_response({}, headers={"x-goog-upload-status": "active"})
    world.uploads.pop(request.query["upload_id"])
    resource = _file_resource(request, name, pending["mimeType"], len(world.files[name]), source="UPLOADED")
    world.resources[name] = resource
    return web.json_response({"file": resource}, headers={"x-goog-upload-status": "final"})


def _file_resource(request: web.Request, name: str, mime: str, size: int, *, source: str) -> dict[str, Any]:
    base = f"{request.scheme}://{request.host}"
    out = {
        "name": name,
        "mimeType": mime,
        "sizeBytes": str(size),
        "createTime": _now(),
        "updateTime": _now(),
        "uri": f"{base}/v1beta/{name}",
        "state": "ACTIVE",
        "source": source,
    }
    if source == "GENERATED":
        out["downloadUri"] = f"{base}/download/v1beta/{name}:download?alt=media"
    return out


async def get_file(request: web.Request) -> web.StreamResponse:
    if (bad := _auth(request)) is not None:
        return bad
    world = request.app[WORLD]
    target = request.match_info["target"]
    name, _, method = target.partition(":")
    key = f"files/{name}"
    if key not in world.files:
        return google_error(404, "NOT_FOUND", f"File {key} not found.")
    if method == "download":
        return web.Response(body=world.files[key], content_type="application/octet-stream")
    return web.json_response(world.resources[key])


async def _answer_one(state: GoogleFakeState, world: BatchWorld, model: str, key: str, body: Any) -> dict[str, Any]:
    world.seen_batch_requests += 1
    state.seen.append({"api": "gemini-batch", "model": model, "key": key, "body": body})
    try:
        req = normalize(body, vertex=False)
        images = check_semantics(req, MODELS[model], vertex=False)
    except RequestInvalid as exc:
        return {"error": {"code": 400, "message": exc.message, "status": "INVALID_ARGUMENT"}}
    ask = ask_of(req, model, MODELS[model], images, vertex=False)
    if key in world.refuse_keys:
        return {"response": refusal(state, ask)}
    return {"response": merge(await success_chunks(state, ask))}


async def create_batch(request: web.Request, model: str) -> web.StreamResponse:
    """``models/{model}:batchGenerateContent`` (routed here by the generate handler, which checked the key)."""
    state, world = request.app[STATE], request.app[WORLD]
    if model not in MODELS:
        return google_error(404, "NOT_FOUND", f"models/{model} is not found for API version v1beta.")
    batch = (orjson.loads(await request.read() or b"{}")).get("batch") or {}
    source = batch.get("inputConfig") or batch.get("input_config") or {}
    results: list[dict[str, Any]] = []
    if "fileName" in source:
        content = world.files.get(source["fileName"])
        if content is None:
            return google_error(400, "INVALID_ARGUMENT", f"File {source['fileName']} not found.")
        for raw in content.splitlines():
            if raw.strip():
                item = orjson.loads(raw)
                results.append(
                    {
                        "key": item.get("key"),
                        **await _answer_one(state, world, model, str(item.get("key")), item.get("request")),
                    }
                )
    else:
        for item in (source.get("requests") or {}).get("requests") or []:
            key = str((item.get("metadata") or {}).get("key"))
            results.append(
                {"metadata": {"key": key}, **await _answer_one(state, world, model, key, item.get("request"))}
            )
    name = f"batches/{secrets.token_hex(8)}"
    output: dict[str, Any]
    if "fileName" in source:
        out_name = f"files/batch-{name.split('/')[1]}"
        world.files[out_name] = b"".join(orjson.dumps(r) + b"\n" for r in results)
        world.resources[out_name] = _file_resource(
            request, out_name, "application/jsonl", len(world.files[out_name]), source="GENERATED"
        )
        output = {"responsesFile": out_name}
    else:
        output = {"inlinedResponses": {"inlinedResponses": results}}
    world.batches[name] = {
        "name": name,
        "metadata": {
            "@type": BATCH_TYPE,
            "model": f"models/{model}",
            "displayName": batch.get("displayName", ""),
            "state": "BATCH_STATE_PENDING",
            "createTime": _now(),
            "updateTime": _now(),
            "name": name,
            "batchStats": {"requestCount": str(len(results))},
        },
        "_output": output,
    }
    world.polls[name] = 0
    return web.json_response(_public(world.batches[name]))


def _public(op: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in op.items() if not k.startswith("_")}


async def get_batch(request: web.Request) -> web.StreamResponse:
    if (bad := _auth(request)) is not None:
        return bad
    world = request.app[WORLD]
    target = request.match_info["target"]
    batch_id, _, method = target.partition(":")
    name = f"batches/{batch_id}"
    op = world.batches.get(name)
    if op is None:
        return google_error(404, "NOT_FOUND", f"Batch {name} not found.")
    meta = op["metadata"]
    if method == "cancel":
        if meta["state"] in ("BATCH_STATE_PENDING", "BATCH_STATE_RUNNING"):
            meta.update(state="BATCH_STATE_CANCELLED", endTime=_now(), updateTime=_now())
            op["done"] = True
        return web.json_response({})
    if meta["state"] in ("BATCH_STATE_PENDING", "BATCH_STATE_RUNNING"):
        world.polls[name] += 1
        if world.polls[name] > world.pending_polls:
            meta.update(state="BATCH_STATE_SUCCEEDED", endTime=_now(), updateTime=_now(), output=op["_output"])
            op["done"] = True
            op["response"] = {"@type": BATCH_TYPE, **op["_output"]}
        else:
            meta["state"] = "BATCH_STATE_RUNNING"
    return web.json_response(_public(op))


def add_routes(app: web.Application) -> None:
    app[WORLD] = BatchWorld()
    version = "{version:v1beta|v1}"
    app.router.add_post(f"/upload/{version}/files", upload)
    app.router.add_get(f"/{version}/files/{{target}}", get_file)
    app.router.add_get(f"/download/{version}/files/{{target}}", get_file)
    app.router.add_get(f"/{version}/batches/{{target}}", get_batch)
    app.router.add_post(f"/{version}/batches/{{target}}", get_batch)

"""The OpenAPI 3.1 document of every public endpoint, served at ``GET /openapi.json``.

Data, not introspection: ``SCHEMAS`` and ``openapi_paths.MORE_SCHEMAS`` (components), ``API_PATHS`` (mounted
under ``/v1`` and ``/openai/v1``), ``V1_PATHS`` (native ``/v1`` routes only: keys, balance, spend) and ``ROOT_PATHS``
(served as they are). An endpoint added to the app adds its entry here in the same change; the contract tests check
that every API route is documented, validate real responses against these schemas and fuzz the live gateway with
schemathesis (tests/contract/test_openapi_contract.py), so a drift fails the suite.
"""

from __future__ import annotations

import copy
from typing import Any

from imagegate.api.openapi_paths import MORE_SCHEMAS
from imagegate.api.parsing import BACKGROUNDS, QUALITIES, RESOLUTION_VALUES, RESPONSE_FORMATS, SORTS, STYLES
from imagegate.core.types import OUTPUT_FORMATS

API_PREFIXES = ("/v1", "/openai/v1")

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


_PREFERENCES: Schema = {
    "type": "object",
    "description": "Routing preferences (send them in the OpenAI SDK's extra_body).",
    "properties": {
        "order": {"type": "array", "items": {"type": "string"}},
        "only": {"type": "array", "items": {"type": "string"}},
        "ignore": {"type": "array", "items": {"type": "string"}},
        "sort": {"enum": list(SORTS)},
        "allow_fallbacks": {"type": "boolean"},
        "max_price": {"type": "number", "minimum": 0, "maximum": 1_000_000, "description": "USD per request"},
    },
    "additionalProperties": False,
}

_REQUEST_FIELDS: Schema = {
    "model": {"type": "string", "minLength": 1, "description": "Model id, alias, or provider/model to force one."},
    "prompt": {"type": "string", "minLength": 1, "maxLength": 32000},
    "n": {"type": "integer", "minimum": 1, "maximum": 10},
    "size": {"type": "string", "maxLength": 64, "description": "'auto', 'WxH' (pixels) or 'W:H' (aspect ratio)."},
    "quality": {"enum": list(QUALITIES)},
    "response_format": {"enum": list(RESPONSE_FORMATS)},
    "output_format": {"enum": [*OUTPUT_FORMATS, "jpg"]},
    "output_compression": {"type": "integer", "minimum": 0, "maximum": 100},
    "background": {"enum": list(BACKGROUNDS)},
    "style": {"enum": list(STYLES)},
    "user": {"type": "string"},
    "aspect_ratio": {"type": "string", "description": "'W:H' or 'auto'."},
    "resolution": {"enum": list(RESOLUTION_VALUES)},
    "seed": {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1},
}

_FORM_FIELDS: Schema = {
    name: ({"type": "string"} if spec.get("type") == "integer" else spec) for name, spec in _REQUEST_FIELDS.items()
}

SCHEMAS: dict[str, Schema] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["message", "type", "param", "code"],
                "properties": {
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                    "param": _nullable({"type": "string"}),
                    "code": {"type": "string"},
                    "attempts": {"type": "array", "items": ref("Attempt")},
                },
                "additionalProperties": True,
            }
        },
    },
    "ProviderPreferences": _PREFERENCES,
    "ImageGenerationRequest": {
        "type": "object",
        "required": ["model", "prompt"],
        "properties": {**_REQUEST_FIELDS, "provider": ref("ProviderPreferences")},
        "additionalProperties": True,
        "description": "The OpenAI Images API's fields plus imagegate's; unknown fields pass through to the provider.",
    },
    "ImageEditRequest": {
        "type": "object",
        "required": ["model", "prompt", "image"],
        "properties": {
            **_FORM_FIELDS,
            "image": {
                "anyOf": [
                    {"type": "string", "format": "binary"},
                    {"type": "array", "items": {"type": "string", "format": "binary"}},
                ]
            },
            "image[]": {"type": "array", "items": {"type": "string", "format": "binary"}},
            "mask": {"type": "string", "format": "binary"},
            "provider": {"type": "string", "description": "ProviderPreferences as a JSON string."},
        },
    },
    "Attempt": {
        "type": "object",
        "required": ["provider", "outcome", "latency_ms"],
        "properties": {
            "provider": {"type": "string"},
            "outcome": {"type": "string"},
            "latency_ms": {"type": "number"},
            "status": {"type": "integer"},
            "error": {"type": "string"},
            "hedged": {"type": "boolean"},
            "cost_micros": {"type": "integer"},
        },
    },
    "Image": {
        "type": "object",
        "properties": {
            "b64_json": {"type": "string"},
            "url": {"type": "string"},
            "revised_prompt": {"type": "string"},
            "size": {"type": "string", "description": "This image's pixels, when the images of one answer differ."},
        },
    },
    "ImagesResponse": {
        "type": "object",
        "required": ["created", "data", "metadata"],
        "properties": {
            "created": {"type": "integer"},
            "data": {"type": "array", "items": ref("Image")},
            "size": {"type": "string", "description": "The pixel size returned (WxH), not the size asked."},
            "output_format": {"type": "string"},
            "quality": {"type": "string"},
            "background": {"type": "string"},
            "usage": {"type": "object"},
            "metadata": {
                "type": "object",
                "required": ["model", "executed_model", "provider", "cost", "cost_micros", "currency", "attempts"],
                "properties": {
                    "model": {"type": "string"},
                    "executed_model": {"type": "string"},
                    "provider": {"type": "string"},
                    "provider_name": {"type": "string"},
                    "cost": {"type": "number"},
                    "cost_micros": {"type": "integer"},
                    "currency": {"const": "USD"},
                    "request_id": {"type": "string"},
                    "attempts": {"type": "array", "items": ref("Attempt")},
                },
            },
        },
    },
    "CostComponent": {
        "type": "object",
        "required": ["type", "metric", "quantity", "billable_quantity", "unit_price", "total_cost"],
        "properties": {
            "type": {"enum": ["input", "output"]},
            "metric": {"type": "string"},
            "quantity": {"type": "number"},
            "billable_quantity": {"type": "number"},
            "unit_price": {"type": "number"},
            "total_cost": {"type": "integer", "description": "micro-USD"},
        },
    },
    "DryRunResponse": {
        "type": "object",
        "required": ["estimated", "model", "provider", "total_cost_micros", "currency", "components", "offers"],
        "properties": {
            "estimated": {"const": True},
            "model": {"type": "string"},
            "provider": {"type": "string", "description": "The offer this gateway would try first."},
            "total_cost_micros": _nullable({"type": "integer"}),
            "price_unknown": {"type": "boolean", "description": "The offer publishes no price (total is null)."},
            "note": {"type": "string"},
            "currency": {"const": "USD"},
            "components": {"type": "array", "items": ref("CostComponent")},
            "offers": {
                "type": "array",
                "description": "Every catalog offer, priced whether or not its credentials are set.",
                "items": {
                    "type": "object",
                    "required": ["provider", "active"],
                    "properties": {
                        "provider": {"type": "string"},
                        "provider_name": {"type": "string"},
                        "active": {"type": "boolean"},
                        "total_cost_micros": _nullable({"type": "integer", "description": "null: no known price"}),
                        "currency": {"const": "USD"},
                        "components": {"type": "array", "items": ref("CostComponent")},
                        "error": {"type": "string", "description": "Why this offer cannot serve the request."},
                    },
                },
            },
        },
    },
    "Model": {
        "type": "object",
        "required": ["id", "object", "created", "owned_by"],
        "properties": {
            "id": {"type": "string"},
            "object": {"const": "model"},
            "created": {"type": "integer"},
            "owned_by": {"type": "string"},
            "name": {"type": "string"},
            "aliases": {"type": "array", "items": {"type": "string"}},
            "status": {"type": "string"},
            "providers": {"type": "array", "items": {"type": "string"}},
        },
    },
    "ModelList": {
        "type": "object",
        "required": ["object", "data"],
        "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": ref("Model")}},
    },
    "Performance": {
        "type": "object",
        "required": ["requests", "successes", "success_rate"],
        "properties": {
            "requests": {"type": "integer"},
            "successes": {"type": "integer"},
            **{
                k: _nullable({"type": "number"})
                for k in (
                    "success_rate",
                    "latency_p50_ms",
                    "latency_p95_ms",
                    "latency_avg_ms",
                    "ttfb_p50_ms",
                    "ttfb_p95_ms",
                )
            },
        },
    },
    "ModelProviders": {
        "type": "object",
        "required": ["object", "model", "window_days", "data"],
        "properties": {
            "object": {"const": "list"},
            "model": {"type": "string"},
            "window_days": {"type": "integer"},
            "data": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["provider", "active", "performance"],
                    "properties": {
                        "provider": {"type": "string"},
                        "provider_name": {"type": "string"},
                        "config_key": {"type": "string"},
                        "provider_model_id": {"type": "string"},
                        "regions": {"type": "array", "items": {"type": "string"}},
                        "active": {"type": "boolean"},
                        "pricing": {"type": "object"},
                        "performance": ref("Performance"),
                    },
                },
            },
        },
    },
    "Health": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"enum": ["ok", "starting"]}, "providers": {"type": "array", "items": {}}},
    },
}


def _json(schema_name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref(schema_name)}}}


def _errors(*statuses: int) -> dict[str, Any]:
    why = {
        400: "Invalid request (the error names the parameter)",
        401: "Missing or invalid API key",
        403: "Needs the master key (or the entry's publisher)",
        404: "Unknown model, object or path",
        409: "Conflict (the battle already has a vote)",
        408: "The request body stopped arriving",
        413: "Upload too large",
        429: "Rate limited by every provider",
        502: "Every provider failed",
        503: "Spend cap reached, or the service is not available",
    }
    out = {str(s): _json("Error", why[s]) for s in statuses}
    out["default"] = _json("Error", "Any other error, in the same shape")
    return out


_IMAGE_HEADERS = {
    name: {"schema": {"type": "string"}, "description": text}
    for name, text in (
        ("X-Imagegate-Provider", "The provider that answered (or would, for a dry run)."),
        ("X-Imagegate-Request-Id", "The request's id in the request log."),
        ("X-Imagegate-Cost-Micros", "The cost (or the estimate) in micro-USD."),
    )
}

_DRY_RUN = {
    "name": "dryRun",
    "in": "query",
    "required": False,
    "schema": {"enum": ["true", "false", "1", "0", "yes", "no"]},
    "description": "Validate and price the request; no provider is called.",
}

_MODEL_ID = {"name": "model_id", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}

_IMAGE_ANSWER = {
    "description": "The images, or the estimate with ?dryRun=true",
    "headers": _IMAGE_HEADERS,
    "content": {"application/json": {"schema": {"anyOf": [ref("ImagesResponse"), ref("DryRunResponse")]}}},
}

API_PATHS: dict[str, dict[str, Any]] = {
    "/images/generations": {
        "post": {
            "operationId": "createImage",
            "summary": "Generate images from a prompt",
            "parameters": [_DRY_RUN],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ref("ImageGenerationRequest")}},
            },
            "responses": {"200": _IMAGE_ANSWER, **_errors(400, 401, 404, 408, 413, 429, 502)},
        }
    },
    "/images/edits": {
        "post": {
            "operationId": "createImageEdit",
            "summary": "Edit images with a prompt",
            "parameters": [_DRY_RUN],
            "requestBody": {
                "required": True,
                "content": {"multipart/form-data": {"schema": ref("ImageEditRequest")}},
            },
            "responses": {"200": _IMAGE_ANSWER, **_errors(400, 401, 404, 408, 413, 429, 502)},
        }
    },
    "/models": {
        "get": {
            "operationId": "listModels",
            "summary": "The catalog's models",
            "responses": {"200": _json("ModelList", "Every model"), **_errors(401)},
        }
    },
    "/models/{model_id}": {
        "get": {
            "operationId": "retrieveModel",
            "summary": "One model, by id, alias or provider/model",
            "parameters": [_MODEL_ID],
            "responses": {"200": _json("Model", "The model"), **_errors(401, 404)},
        }
    },
    "/models/{model_id}/providers": {
        "get": {
            "operationId": "listModelProviders",
            "summary": "Each offer's prices and measured performance",
            "parameters": [
                _MODEL_ID,
                {"name": "days", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 3650}},
            ],
            "responses": {"200": _json("ModelProviders", "Offers and figures"), **_errors(400, 401, 404)},
        }
    },
}


def _op(op_id: str, summary: str, ok: dict[str, Any], *errors: int, status: str = "200", **more: Any) -> Schema:
    return {"operationId": op_id, "summary": summary, **more, "responses": {status: ok, **_errors(*errors)}}


def _path_id(name: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}


def _query(name: str, schema: Schema, description: str = "") -> Schema:
    out: Schema = {"name": name, "in": "query", "required": False, "schema": schema}
    if description:
        out["description"] = description
    return out


def _body(schema_name: str, media: str = "application/json") -> Schema:
    return {"required": True, "content": {media: {"schema": ref(schema_name)}}}


_ARENA_TASK = {"enum": ["text-to-image", "image-editing"]}
_LIMIT_100 = _query("limit", {"type": "integer", "minimum": 1, "maximum": 100})

API_PATHS.update(
    {
        "/chat/completions": {
            "post": _op(
                "createChatCompletion",
                "Generate images through a chat completion (OpenRouter's image output); stream: true for SSE",
                {
                    "description": "The completion: text in message.content, images as data URLs in message.images",
                    "headers": _IMAGE_HEADERS,
                    "content": {
                        "application/json": {"schema": ref("ChatCompletion")},
                        "text/event-stream": {"schema": {"type": "string"}},
                    },
                },
                400,
                401,
                408,
                413,
                429,
                502,
                requestBody=_body("ChatCompletionRequest"),
            )
        },
        "/jobs/{job_id}": {
            "get": _op(
                "retrieveJob", "An async image job", _json("Job", "The job"), 401, 404, parameters=[_path_id("job_id")]
            )
        },
        "/jobs/{job_id}/cancel": {
            "post": _op(
                "cancelJob",
                "Cancel an async image job",
                _json("Job", "The job"),
                401,
                404,
                parameters=[_path_id("job_id")],
            )
        },
        "/webhooks/secret": {
            "get": _op(
                "getWebhookSecret",
                "Whether the key has a webhook signing secret (never the secret)",
                _json("WebhookSecret", "The secret's state"),
                401,
            ),
            "post": _op(
                "rotateWebhookSecret",
                "A new webhook signing secret, shown in this answer only",
                _json("WebhookSecret", "The new secret"),
                401,
            ),
        },
        "/recordings": {
            "get": _op(
                "listRecordings",
                "The key's recent recordings",
                _json("RecordingList", "Recordings"),
                400,
                401,
                parameters=[_query("limit", {"type": "integer", "minimum": 1, "maximum": 1000})],
            )
        },
        "/recordings/{recording_id}": {
            "delete": _op(
                "deleteRecording",
                "Delete a recording",
                _json("DeletedRecording", "Deleted"),
                401,
                404,
                parameters=[_path_id("recording_id")],
            )
        },
        "/files": {
            "post": _op(
                "createFile",
                "Upload a batch input file (JSONL)",
                _json("File", "The file"),
                400,
                401,
                408,
                413,
                requestBody=_body("FileUpload", "multipart/form-data"),
            ),
            "get": _op(
                "listFiles",
                "The key's files",
                _json("FileList", "Files"),
                401,
                parameters=[_query("purpose", {"type": "string"})],
            ),
        },
        "/files/{file_id}": {
            "get": _op(
                "retrieveFile", "One file", _json("File", "The file"), 401, 404, parameters=[_path_id("file_id")]
            ),
            "delete": _op(
                "deleteFile",
                "Delete a file",
                _json("DeletedFile", "Deleted"),
                401,
                404,
                parameters=[_path_id("file_id")],
            ),
        },
        "/files/{file_id}/content": {
            "get": _op(
                "retrieveFileContent",
                "A file's content",
                {"description": "JSONL", "content": {"application/jsonl": {"schema": {"type": "string"}}}},
                401,
                404,
                parameters=[_path_id("file_id")],
            )
        },
        "/batches": {
            "post": _op(
                "createBatch",
                "Start a batch of image requests from an uploaded file",
                _json("Batch", "The batch"),
                400,
                401,
                404,
                408,
                413,
                requestBody=_body("BatchRequest"),
            ),
            "get": _op(
                "listBatches",
                "The key's batches",
                _json("BatchList", "Batches"),
                400,
                401,
                parameters=[_LIMIT_100, _query("after", {"type": "string"}, "A batch id: the page after it.")],
            ),
        },
        "/batches/{batch_id}": {
            "get": _op(
                "retrieveBatch", "One batch", _json("Batch", "The batch"), 401, 404, parameters=[_path_id("batch_id")]
            )
        },
        "/batches/{batch_id}/cancel": {
            "post": _op(
                "cancelBatch",
                "Cancel a batch",
                _json("Batch", "The batch"),
                401,
                404,
                parameters=[_path_id("batch_id")],
            )
        },
        "/arena/battles:import": {
            "post": _op(
                "importArenaBattles",
                "Import FastChat battles (JSON or JSONL; master key)",
                _json("ArenaImport", "What was imported"),
                400,
                401,
                403,
                404,
                408,
                413,
                parameters=[_query("task", _ARENA_TASK), _query("competition", {"type": "string"})],
                requestBody={
                    "required": True,
                    "content": {
                        "application/json": {"schema": {}},
                        "application/x-ndjson": {"schema": {"type": "string"}},
                    },
                },
            )
        },
        "/arena/battles:export": {
            "get": _op(
                "exportArenaBattles",
                "Every voted battle, in FastChat's format",
                {
                    "description": "The battles",
                    "content": {
                        "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                        "application/x-ndjson": {"schema": {"type": "string"}},
                    },
                },
                401,
                parameters=[_query("format", {"enum": ["json", "jsonl"]})],
            )
        },
        "/arena/battles": {
            "post": _op(
                "createArenaBattle",
                "A battle to vote on (two anonymous images of one prompt)",
                _json("ArenaBattle", "The battle"),
                400,
                401,
                404,
                408,
                413,
                429,
                502,
                503,
                requestBody=_body("ArenaBattleRequest"),
            )
        },
        "/arena/battles/{battle_id}": {
            "get": _op(
                "retrieveArenaBattle",
                "One battle",
                _json("ArenaBattle", "The battle"),
                401,
                404,
                parameters=[_path_id("battle_id")],
            )
        },
        "/arena/battles/{battle_id}/vote": {
            "post": _op(
                "voteArenaBattle",
                "Vote on a battle (reveals the models)",
                _json("ArenaBattle", "The battle"),
                400,
                401,
                404,
                408,
                409,
                413,
                429,
                parameters=[_path_id("battle_id")],
                requestBody=_body("ArenaVote"),
            )
        },
        "/arena/battles/{battle_id}/reveal": {
            "post": _op(
                "revealArenaBattle",
                "Reveal a battle's models without voting",
                _json("ArenaBattle", "The battle"),
                401,
                404,
                parameters=[_path_id("battle_id")],
            )
        },
        "/arena/leaderboard": {
            "get": _op(
                "arenaLeaderboard",
                "A board: per task, competition or category (Bradley-Terry with bootstrap intervals)",
                _json("ArenaLeaderboard", "The board"),
                400,
                401,
                404,
                parameters=[
                    _query("task", _ARENA_TASK),
                    _query("competition", {"type": "string"}),
                    _query("category", {"type": "string"}),
                ],
            )
        },
        "/arena/competitions": {
            "get": _op(
                "listArenaCompetitions",
                "The competitions",
                _json("ArenaCompetitionList", "Competitions"),
                401,
                parameters=[_query("task", {"type": "string"})],
            ),
            "post": _op(
                "createArenaCompetition",
                "Add a competition (master key)",
                _json("ArenaCompetition", "The competition"),
                400,
                401,
                403,
                408,
                413,
                status="201",
                requestBody=_body("ArenaDefinition"),
            ),
        },
        "/arena/categories": {
            "get": _op("listArenaCategories", "The categories", _json("ArenaCategoryList", "Categories"), 401),
            "post": _op(
                "createArenaCategory",
                "Add a category (master key)",
                _json("ArenaCategory", "The category"),
                400,
                401,
                403,
                408,
                413,
                status="201",
                requestBody=_body("ArenaDefinition"),
            ),
        },
        "/gallery": {
            "get": _op(
                "listGallery",
                "Published and curated images",
                _json("GalleryList", "A page"),
                400,
                401,
                404,
                parameters=[
                    _query("model", {"type": "string"}),
                    _query("task", {"enum": ["text-to-image", "image-editing"]}),
                    _query("source", {"type": "string"}),
                    _query("competition", {"type": "string"}, "An arena competition's slug: its battle images."),
                    _query("cursor", {"type": "string"}, "The next_cursor of the previous page."),
                    _query("limit", {"type": "integer", "minimum": 1}),
                ],
            ),
            "post": _op(
                "publishGalleryEntry",
                "Publish an image of this gateway to the gallery",
                _json("GalleryEntry", "The entry"),
                400,
                401,
                404,
                408,
                413,
                status="201",
                requestBody=_body("GalleryPublish"),
            ),
        },
        "/gallery/{entry_id}": {
            "delete": _op(
                "deleteGalleryEntry",
                "Unpublish (the publisher or the master key)",
                _json("DeletedGalleryEntry", "Deleted"),
                401,
                403,
                404,
                parameters=[_path_id("entry_id")],
            )
        },
    }
)

_SPEND_PARAMS = [
    _query("group_by", {"enum": ["key", "model", "provider", "day"]}),
    _query("from", {"type": "string"}, "ISO date or datetime (UTC)."),
    _query("to", {"type": "string"}, "ISO date or datetime (UTC)."),
]
_KEY_ID = _path_id("key_id")

V1_PATHS: dict[str, dict[str, Any]] = {
    "/v1/admin/keys": {
        "post": _op(
            "createKey",
            "Create an API key (master key); the secret is in this answer only",
            _json("ApiKey", "The key, with its secret as 'key'"),
            400,
            401,
            403,
            408,
            413,
            status="201",
            requestBody=_body("ApiKeyFields"),
        ),
        "get": _op("listKeys", "Every API key (master key)", _json("ApiKeyList", "Keys"), 401, 403),
    },
    "/v1/admin/keys/{key_id}": {
        "get": _op(
            "retrieveKey", "One API key (master key)", _json("ApiKey", "The key"), 401, 403, 404, parameters=[_KEY_ID]
        ),
        "patch": _op(
            "updateKey",
            "Change an API key's policy (master key)",
            _json("ApiKey", "The key"),
            400,
            401,
            403,
            404,
            408,
            413,
            parameters=[_KEY_ID],
            requestBody=_body("ApiKeyFields"),
        ),
        "delete": _op(
            "revokeKey",
            "Revoke an API key (master key)",
            _json("ApiKey", "The revoked key"),
            401,
            403,
            404,
            parameters=[_KEY_ID],
        ),
    },
    "/v1/admin/spend": {
        "get": _op(
            "adminSpend",
            "Spend of every key (master key)",
            _json("Spend", "Spend"),
            400,
            401,
            403,
            parameters=_SPEND_PARAMS,
        )
    },
    "/v1/balance": {
        "get": _op("balance", "The calling key's budget and what is left", _json("Balance", "Balance"), 401)
    },
    "/v1/spend": {
        "get": _op("spend", "The calling key's spend", _json("Spend", "Spend"), 400, 401, 404, parameters=_SPEND_PARAMS)
    },
}


ROOT_PATHS: dict[str, dict[str, Any]] = {
    "/health": {
        "get": {
            "operationId": "health",
            "summary": "Liveness and the active providers",
            "security": [],
            "responses": {"200": _json("Health", "Serving"), "503": _json("Health", "Starting")},
        }
    },
    "/metrics": {
        "get": {
            "operationId": "metrics",
            "summary": "Prometheus metrics of every worker (needs a key when keys are set, unless metrics_public)",
            "responses": {
                "200": {
                    "description": "Prometheus text format",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
                **_errors(401),
            },
        }
    },
    "/files/{token}": {
        "get": {
            "operationId": "getFile",
            "summary": "A generated image (response_format=url), until its URL expires",
            "security": [],
            "parameters": [{"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {
                "200": {
                    "description": "The image",
                    "content": {"image/*": {"schema": {"type": "string", "format": "binary"}}},
                },
                **_errors(404),
            },
        }
    },
    "/openapi.json": {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "security": [],
            "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {}}}}},
        }
    },
}


def document(version: str = "0.1.0") -> dict[str, Any]:
    """The whole document (a fresh copy: callers may change it)."""
    paths: dict[str, Any] = {}
    for prefix in API_PREFIXES:
        for path, item in API_PATHS.items():
            entry = copy.deepcopy(item)
            for op in entry.values():
                if prefix != API_PREFIXES[0]:
                    op["operationId"] = f"{op['operationId']}_openai"
                    op["tags"] = ["openai-compatible alias"]
            paths[prefix + path] = entry
    paths.update(copy.deepcopy(V1_PATHS))  # native /v1 routes only (keys, balance, spend)
    paths.update(copy.deepcopy(ROOT_PATHS))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "imagegate",
            "version": version,
            "description": "An OpenAI-compatible gateway for image generation and editing models.",
        },
        "paths": paths,
        "components": {
            "schemas": copy.deepcopy({**SCHEMAS, **MORE_SCHEMAS}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{}, {"bearer": []}],
    }

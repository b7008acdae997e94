"""The OpenAPI entries of the endpoints beyond images and models: chat completions, jobs, webhooks, recordings,
files, batches, the arena, the gallery (``MORE_API_PATHS``, under ``/v1`` and ``/openai/v1``), and keys, balance and
spend (``V1_PATHS``, native ``/v1`` routes only). ``imagegate.api.openapi.document()`` assembles them; the shared
schemas are in ``MORE_SCHEMAS``, merged into its components."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def _obj(required: list[str], props: Schema, **extra: Any) -> Schema:
    return {"type": "object", "required": required, "properties": props, "additionalProperties": True, **extra}


def _list_of(item: Schema, **props: Schema) -> Schema:
    return _obj(["object", "data"], {"object": {"const": "list"}, "data": {"type": "array", "items": item}, **props})


_STR = {"type": "string"}
_INT = {"type": "integer"}
_NUM = {"type": "number"}
_BOOL = {"type": "boolean"}
_OPEN = {"type": "object", "additionalProperties": True}
_TS = _nullable(_INT)
_ISO = _nullable({"type": "string"})
_ARENA_TASKS = ["text-to-image", "image-editing"]

_DELETED = {
    name: _obj(["id", "object", "deleted"], {"id": _STR, "object": {"const": obj}, "deleted": {"const": True}})
    for name, obj in (
        ("DeletedRecording", "recording"),
        ("DeletedFile", "file"),
        ("DeletedGalleryEntry", "gallery.entry"),
    )
}

_BATTLE_SIDE = _obj(["url"], {"url": _nullable(_STR), "model": _STR, "name": _STR})

MORE_SCHEMAS: dict[str, Schema] = {
    **_DELETED,
    "ChatCompletionRequest": {
        "type": "object",
        "required": ["model", "messages"],
        "properties": {
            "model": {"type": "string", "minLength": 1, "description": "An image model: id, alias or provider/model."},
            "messages": {
                "type": "array",
                "minItems": 1,
                "description": "The last user message's text is the prompt; its image_url parts are input images.",
                "items": {
                    "type": "object",
                    "required": ["role", "content"],
                    "properties": {
                        "role": {"enum": ["system", "developer", "user", "assistant"]},
                        "content": {
                            "anyOf": [
                                {"type": "string"},
                                {"type": "array", "items": {"type": "object", "additionalProperties": True}},
                            ]
                        },
                    },
                    "additionalProperties": True,
                },
            },
            "modalities": {"type": "array", "items": {"enum": ["image", "text"]}},
            "stream": {"type": "boolean"},
            "n": {"type": "integer", "minimum": 1, "maximum": 10},
            "seed": {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1},
            "user": {"type": "string"},
            "image_config": {
                "type": "object",
                "additionalProperties": True,
                "description": "aspect_ratio, image_size and the Images API's size/quality fields.",
            },
            "provider": {"type": "object", "additionalProperties": True, "description": "OpenRouter's preferences."},
        },
        "additionalProperties": True,
    },
    "ChatCompletion": _obj(
        ["id", "object", "created", "model", "choices", "usage", "metadata"],
        {
            "id": _STR,
            "object": {"const": "chat.completion"},
            "created": _INT,
            "model": _STR,
            "provider": _STR,
            "choices": {
                "type": "array",
                "items": _obj(
                    ["index", "message", "finish_reason"],
                    {
                        "index": _INT,
                        "finish_reason": _STR,
                        "logprobs": {"type": "null"},
                        "message": _obj(
                            ["role", "content", "images"],
                            {
                                "role": {"const": "assistant"},
                                "content": _STR,
                                "images": {
                                    "type": "array",
                                    "items": _obj(
                                        ["type", "image_url"],
                                        {
                                            "type": {"const": "image_url"},
                                            "image_url": _obj(["url"], {"url": _STR}),
                                        },
                                    ),
                                },
                            },
                        ),
                    },
                ),
            },
            "usage": _obj(
                ["prompt_tokens", "completion_tokens", "total_tokens", "cost"],
                {"prompt_tokens": _INT, "completion_tokens": _INT, "total_tokens": _INT, "cost": _NUM},
            ),
            "metadata": _OPEN,
        },
    ),
    "Job": _obj(
        ["id", "object", "status", "created_at", "model", "operation"],
        {
            "id": _STR,
            "object": {"const": "image.job"},
            "status": _STR,
            "created_at": _TS,
            "started_at": _TS,
            "finished_at": _TS,
            "model": _STR,
            "operation": _STR,
            "runs": _INT,
            "webhook_url": _nullable(_STR),
            "result": _OPEN,
            "cost_micros": _nullable(_INT),
            "error": _OPEN,
            "webhook_deliveries": {"type": "array", "items": _OPEN},
        },
    ),
    "WebhookSecret": _obj(
        ["object"],
        {
            "object": {"const": "webhook.secret"},
            "exists": _BOOL,
            "secret": {"type": "string", "description": "Only in the answer to POST, once."},
            "created_at": _INT,
        },
    ),
    "Recording": _obj(
        ["id", "object", "created_at", "operation", "model", "images"],
        {
            "id": _STR,
            "object": {"const": "recording"},
            "created_at": _INT,
            "operation": _STR,
            "model": _STR,
            "prompt": _nullable(_STR),
            "images": _INT,
            "provider": _nullable(_STR),
        },
    ),
    "RecordingList": _list_of(ref("Recording")),
    "File": _obj(
        ["id", "object", "bytes", "created_at", "filename", "purpose", "status"],
        {
            "id": _STR,
            "object": {"const": "file"},
            "bytes": _INT,
            "created_at": _INT,
            "filename": _STR,
            "purpose": _STR,
            "status": _STR,
        },
    ),
    "FileList": _list_of(ref("File"), has_more=_BOOL),
    "FileUpload": {
        "type": "object",
        "required": ["purpose", "file"],
        "properties": {"purpose": {"enum": ["batch"]}, "file": {"type": "string", "format": "binary"}},
    },
    "BatchRequest": {
        "type": "object",
        "required": ["input_file_id", "endpoint", "completion_window"],
        "properties": {
            "input_file_id": _STR,
            "endpoint": {"type": "string", "description": "/v1/images/generations (and the other image endpoints)"},
            "completion_window": {"type": "string", "description": "24h"},
            "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        },
        "additionalProperties": True,
    },
    "Batch": _obj(
        ["id", "object", "endpoint", "input_file_id", "completion_window", "status", "created_at", "request_counts"],
        {
            "id": _STR,
            "object": {"const": "batch"},
            "endpoint": _STR,
            "errors": _nullable(_OPEN),
            "input_file_id": _STR,
            "completion_window": _STR,
            "status": _STR,
            "output_file_id": _nullable(_STR),
            "error_file_id": _nullable(_STR),
            **{
                k: _TS
                for k in (
                    "created_at",
                    "in_progress_at",
                    "expires_at",
                    "finalizing_at",
                    "completed_at",
                    "failed_at",
                    "expired_at",
                    "cancelling_at",
                    "cancelled_at",
                )
            },
            "request_counts": _obj(
                ["total", "completed", "failed"], {"total": _INT, "completed": _INT, "failed": _INT}
            ),
            "metadata": _nullable(_OPEN),
            "estimate": _OPEN,
        },
    ),
    "BatchList": _list_of(ref("Batch"), first_id=_nullable(_STR), last_id=_nullable(_STR), has_more=_BOOL)
    | {"required": ["object", "data", "first_id", "last_id", "has_more"]},
    "ArenaBattleRequest": {
        "type": "object",
        "required": ["task"],
        "properties": {"task": {"enum": _ARENA_TASKS}, "competition": _STR},
        "additionalProperties": True,
    },
    "ArenaBattle": _obj(
        ["id", "object", "task", "prompt", "a", "b", "voted"],
        {
            "id": _STR,
            "object": {"const": "arena.battle"},
            "task": _STR,
            "competition": _nullable(_STR),
            "competition_title": _nullable(_STR),
            "prompt": _STR,
            "input_images": {"type": "array", "items": _STR},
            "a": _BATTLE_SIDE,
            "b": _BATTLE_SIDE,
            "voted": _BOOL,
            "winner": {"enum": ["a", "b", "tie", "both_bad"]},
            "counted": _BOOL,
        },
    ),
    "ArenaVote": {
        "type": "object",
        "required": ["winner"],
        "properties": {"winner": {"enum": ["a", "b", "tie", "both_bad"]}},
        "additionalProperties": True,
    },
    "ArenaLeaderboard": _obj(
        ["object", "board", "rows", "ranked", "battles", "min_battles", "bootstrap_rounds"],
        {
            "object": {"const": "arena.leaderboard"},
            "board": _obj(
                ["kind", "slug", "title"],
                {"kind": {"enum": ["task", "competition", "category"]}, "slug": _STR, "title": _STR},
            ),
            "rows": {"type": "array", "items": _obj(["model", "name", "rank"], {"model": _STR, "name": _STR})},
            "ranked": _INT,
            "battles": _INT,
            "left_win_share": _nullable(_NUM),
            "min_battles": _INT,
            "bootstrap_rounds": _INT,
            "computed_at": _nullable({}),
        },
    ),
    "ArenaCompetition": _obj(
        ["slug", "title", "task", "input_images", "categories", "battles"],
        {
            "slug": _STR,
            "title": _STR,
            "task": {"enum": _ARENA_TASKS},
            "prompt": _STR,
            "input_images": {"type": "array", "items": _STR},
            "categories": {"type": "array", "items": _STR},
            "battles": _INT,
        },
    ),
    "ArenaCategory": _obj(["slug", "title", "battles"], {"slug": _STR, "title": _STR, "battles": _INT}),
    "ArenaCompetitionList": _list_of(ref("ArenaCompetition")),
    "ArenaCategoryList": _list_of(ref("ArenaCategory")),
    "ArenaDefinition": {
        "type": "object",
        "required": ["slug", "title"],
        "properties": {"slug": _STR, "title": _STR},
        "additionalProperties": True,
        "description": "A competition (task, prompt, input_images, models, ...) or a category (its filter).",
    },
    "ArenaImport": _obj(
        ["object", "imported", "counted", "skipped"],
        {"object": {"const": "arena.import"}, "imported": _INT, "counted": _INT, "skipped": _INT},
    ),
    "GalleryEntry": _obj(
        ["id", "source", "model", "task", "prompt", "image_url"],
        {
            "id": _STR,
            "source": _STR,
            "model": _STR,
            "task": _STR,
            "prompt": _nullable(_STR),
            "title": _nullable(_STR),
            "provider": _nullable(_STR),
            "executed_model": _nullable(_STR),
            "size": _nullable(_STR),
            "cost": _nullable(_NUM),
            "latency_ms": _nullable(_NUM),
            "image_url": _STR,
            "thumb_url": _nullable(_STR),
            "width": _nullable(_INT),
            "height": _nullable(_INT),
            "created": _nullable(_INT),
            "competition": _nullable(_STR),
            "battle": _nullable(_STR),
        },
    ),
    "GalleryList": _list_of(ref("GalleryEntry"), total=_INT, next_cursor=_nullable(_STR))
    | {"required": ["object", "data", "total", "next_cursor"]},
    "GalleryPublish": {
        "type": "object",
        "description": "Either generation_id (and index) of a playground run, or image_url (a /files URL of this "
        "gateway), prompt and model.",
        "properties": {
            "generation_id": _STR,
            "index": {"type": "integer", "minimum": 0},
            "image_url": {"type": "string", "maxLength": 4096},
            "prompt": {"type": "string", "maxLength": 8000},
            "model": {"type": "string", "maxLength": 200},
            "task": {"enum": ["text-to-image", "image-editing"]},
            "provider": {"type": "string", "maxLength": 64},
        },
        "additionalProperties": True,
    },
    "ApiKey": _obj(
        ["id", "object", "name", "prefix", "created_at", "models"],
        {
            "id": _STR,
            "object": {"const": "api_key"},
            "name": _nullable(_STR),
            "prefix": _STR,
            "created_at": _ISO,
            "expires_at": _ISO,
            "revoked_at": _ISO,
            "last_used_at": _ISO,
            "models": {"type": "array", "items": _STR},
            "routing": _nullable(_OPEN),
            "budget": _nullable(_OPEN),
            "rate_limits": _nullable(_OPEN),
            "metadata": _nullable(_OPEN),
            "key": {"type": "string", "description": "The secret: only in the answer to POST, once."},
            "deleted": _BOOL,
        },
    ),
    "ApiKeyList": _list_of(ref("ApiKey")),
    "ApiKeyFields": {
        "type": "object",
        "description": "name, models, routing, budget {usd, period, models}, rate_limits, expires_at, metadata.",
        "additionalProperties": True,
    },
    "Spend": _obj(
        ["object", "group_by", "from", "to", "currency", "total_usd", "possibly_billed_usd", "data"],
        {
            "object": {"const": "spend"},
            "group_by": {"enum": ["key", "model", "provider", "day"]},
            "from": _STR,
            "to": _STR,
            "currency": {"const": "USD"},
            "total_usd": _NUM,
            "possibly_billed_usd": _NUM,
            "key_id": _STR,
            "data": {
                "type": "array",
                "items": _obj(
                    ["group", "requests", "images", "spent_usd", "possibly_billed_usd"],
                    {"group": {}, "requests": _INT, "images": _INT, "spent_usd": _NUM, "possibly_billed_usd": _NUM},
                ),
            },
        },
    ),
    "Balance": {
        "type": "object",
        "description": "Nulls where the key has no budget (or the gateway has no keys).",
        "required": ["budget_usd", "spent_usd", "reserved_usd", "remaining_usd", "period", "period_end"],
        "properties": {
            **{k: _nullable(_NUM) for k in ("budget_usd", "spent_usd", "reserved_usd", "remaining_usd")},
            "period": _nullable(_STR),
            "period_end": _nullable(_STR),
        },
    },
}

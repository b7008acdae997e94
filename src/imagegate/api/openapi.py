"""The OpenAPI 3.1 document of every public endpoint, served at ``GET /openapi.json``.

Data, not introspection: ``SCHEMAS`` (components), ``API_PATHS`` (mounted under ``/v1`` and ``/openai/v1``) and
``ROOT_PATHS`` (served as they are). An endpoint added to the app adds its entry here in the same change; the
contract tests validate real responses against these schemas and fuzz the live gateway with schemathesis
(tests/contract/test_openapi_contract.py), so a drift fails the suite.
"""

from __future__ import annotations

import copy
from typing import Any

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
            "total_cost_micros": {"type": "integer"},
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
                        "total_cost_micros": {"type": "integer"},
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
        404: "Unknown model or path",
        408: "The request body stopped arriving",
        413: "Upload too large",
        429: "Rate limited by every provider",
        502: "Every provider failed",
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
            "schemas": copy.deepcopy(SCHEMAS),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{}, {"bearer": []}],
    }

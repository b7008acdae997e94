"""Request validation as strict as Google's JSON-to-proto parser: every field name must exist (camelCase or
snake_case), enums are checked, and errors name the field the way Google does (``generation_config.image_config``).

``normalize`` returns the request with camelCase keys, or raises ``RequestInvalid`` with the 400 to answer.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

ASPECT_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
MODALITIES = ("TEXT", "IMAGE", "AUDIO", "MODALITY_UNSPECIFIED")
ROLES = ("user", "model")
OUTPUT_MIME = ("image/png", "image/jpeg")


@dataclass(frozen=True, slots=True)
class ModelInfo:
    image_sizes: tuple[str, ...]
    input_image_tokens: int
    output_image_tokens: dict[str, int]
    thinking: bool
    max_input_images: int


MODELS = {
    "gemini-3-pro-image-preview": ModelInfo(("1K", "2K", "4K"), 560, {"1K": 1120, "2K": 1120, "4K": 2000}, True, 14),
    "gemini-2.5-flash-image": ModelInfo(("1K",), 258, {"1K": 1290}, False, 3),
}

ANY = None  # any JSON value is accepted under this key
_BLOB = {"mimeType": ANY, "data": ANY, "displayName": ANY}
_PART = {
    "text": ANY,
    "inlineData": _BLOB,
    "fileData": ANY,
    "thought": ANY,
    "thoughtSignature": ANY,
    "functionCall": ANY,
    "functionResponse": ANY,
    "executableCode": ANY,
    "codeExecutionResult": ANY,
    "videoMetadata": ANY,
    "mediaResolution": ANY,
    "partMetadata": ANY,
}
_CONTENT = {"role": ANY, "parts": [_PART]}
_THINKING = {"includeThoughts": ANY, "thinkingBudget": ANY, "thinkingLevel": ANY}
_IMAGE_GEMINI = {"aspectRatio": ANY, "imageSize": ANY}
_IMAGE_VERTEX = {
    **_IMAGE_GEMINI,
    "personGeneration": ANY,
    "prominentPeople": ANY,
    "imageOutputOptions": {"mimeType": ANY, "compressionQuality": ANY},
}
_GENERATION = {
    "stopSequences": ANY,
    "responseMimeType": ANY,
    "responseSchema": ANY,
    "responseJsonSchema": ANY,
    "responseModalities": ANY,
    "candidateCount": ANY,
    "maxOutputTokens": ANY,
    "temperature": ANY,
    "topP": ANY,
    "topK": ANY,
    "seed": ANY,
    "presencePenalty": ANY,
    "frequencyPenalty": ANY,
    "responseLogprobs": ANY,
    "logprobs": ANY,
    "speechConfig": ANY,
    "thinkingConfig": _THINKING,
    "mediaResolution": ANY,
}
_REQUEST = {
    "model": ANY,
    "contents": [_CONTENT],
    "systemInstruction": _CONTENT,
    "tools": ANY,
    "toolConfig": ANY,
    "safetySettings": ANY,
    "cachedContent": ANY,
    "serviceTier": ANY,
}
GEMINI_REQUEST = {
    **_REQUEST,
    "store": ANY,
    "generationConfig": {**_GENERATION, "imageConfig": _IMAGE_GEMINI, "enableEnhancedCivicAnswers": ANY},
}
VERTEX_REQUEST = {
    **_REQUEST,
    "labels": ANY,
    "generationConfig": {
        **_GENERATION,
        "imageConfig": _IMAGE_VERTEX,
        "routingConfig": ANY,
        "modelSelectionConfig": ANY,
        "audioTimestamp": ANY,
    },
}

_CAMEL = re.compile(r"_([a-z0-9])")
_SNAKE = re.compile(r"([A-Z])")


class RequestInvalid(Exception):
    def __init__(self, message: str, field_path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field_path = field_path


def to_camel(name: str) -> str:
    return _CAMEL.sub(lambda m: m.group(1).upper(), name)


def to_snake(name: str) -> str:
    return _SNAKE.sub(lambda m: "_" + m.group(1).lower(), name)


def _walk(value: Any, schema: Any, path: str) -> Any:
    if schema is ANY:
        return value
    if isinstance(schema, list):
        if not isinstance(value, list):
            raise RequestInvalid(f"Invalid JSON payload received. Invalid value at '{path}': expected a list.", path)
        return [_walk(v, schema[0], f"{path}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, dict):
        where = f"'{path}'" if path else "the request"
        raise RequestInvalid(f"Invalid JSON payload received. Invalid value at {where}: expected an object.", path)
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = to_camel(key)
        if name not in schema:
            at = f" at '{path}'" if path else ""
            raise RequestInvalid(f'Invalid JSON payload received. Unknown name "{key}"{at}: Cannot find field.', path)
        out[name] = _walk(item, schema[name], f"{path}.{to_snake(name)}" if path else to_snake(name))
    return out


def normalize(body: Any, *, vertex: bool) -> dict[str, Any]:
    """Validate field names and shapes; return the request with camelCase keys."""
    return _walk(body, VERTEX_REQUEST if vertex else GEMINI_REQUEST, "")


def check_semantics(req: dict[str, Any], model: ModelInfo, *, vertex: bool) -> list[bytes]:
    """The checks past field names (roles, parts, base64, enums). Returns the decoded input images."""
    contents = req.get("contents")
    if not contents:
        raise RequestInvalid("* GenerateContentRequest.contents: contents is not specified\n", "contents")
    images: list[bytes] = []
    for i, content in enumerate(contents):
        role = content.get("role")
        if (vertex and not role) or (role and role not in ROLES):
            raise RequestInvalid("Please use a valid role: user, model.", f"contents[{i}].role")
        parts = content.get("parts")
        if not parts:
            raise RequestInvalid(
                f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.\n",
                f"contents[{i}].parts",
            )
        for j, part in enumerate(parts):
            if not part:
                raise RequestInvalid(
                    f"* GenerateContentRequest.contents[{i}].parts[{j}].data: required oneof field "
                    "'data' must have one initialized field\n",
                    f"contents[{i}].parts[{j}]",
                )
            blob = part.get("inlineData")
            if blob is not None:
                images.append(_decode_blob(blob, f"contents[{i}].parts[{j}].inline_data"))
    if len(images) > model.max_input_images:
        raise RequestInvalid(
            f"The number of images ({len(images)}) exceeds the maximum of {model.max_input_images} for this model.",
            "contents",
        )
    gen = req.get("generationConfig") or {}
    for mod in gen.get("responseModalities") or ():
        if mod not in MODALITIES:
            raise RequestInvalid(
                "Invalid value at 'generation_config.response_modalities' (type.googleapis.com/"
                f'google.ai.generativelanguage.v1beta.GenerationConfig.Modality), "{mod}"',
                "generation_config.response_modalities",
            )
    image = gen.get("imageConfig") or {}
    ratio, size = image.get("aspectRatio"), image.get("imageSize")
    if ratio is not None and ratio not in ASPECT_RATIOS:
        raise RequestInvalid(
            f"Unsupported aspect ratio: {ratio}. Supported values are {', '.join(ASPECT_RATIOS)}.",
            "generation_config.image_config.aspect_ratio",
        )
    if size is not None and size not in model.image_sizes:
        raise RequestInvalid(
            f"Unsupported image size: {size}. Supported values are {', '.join(model.image_sizes)}.",
            "generation_config.image_config.image_size",
        )
    mime = (image.get("imageOutputOptions") or {}).get("mimeType")
    if mime is not None and mime not in OUTPUT_MIME:
        raise RequestInvalid(
            f"Unsupported output mime type: {mime}.", "generation_config.image_config.image_output_options.mime_type"
        )
    return images


def _decode_blob(blob: dict[str, Any], path: str) -> bytes:
    data, mime = blob.get("data"), blob.get("mimeType")
    if not isinstance(data, str) or not data:
        raise RequestInvalid(f"* GenerateContentRequest.{path}.data: inline data is empty\n", f"{path}.data")
    if not isinstance(mime, str) or not mime:
        raise RequestInvalid(
            f"* GenerateContentRequest.{path}.mime_type: mime_type is not specified\n", f"{path}.mime_type"
        )
    try:
        raw = base64.b64decode(data, altchars=b"-_" if ("-" in data or "_" in data) else None, validate=True)
    except (binascii.Error, ValueError):
        raise RequestInvalid(
            f"Invalid value at '{path}.data' (TYPE_BYTES), Base64 decoding failed for \"{data[:20]}...\"",
            f"{path}.data",
        ) from None
    if not mime.startswith("image/"):
        raise RequestInvalid(f"Unsupported MIME type: {mime}", f"{path}.mime_type")
    return raw

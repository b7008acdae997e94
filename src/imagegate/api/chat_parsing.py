"""A chat-completions body (OpenRouter's image-output shape) -> the fields of one canonical image request.

- ``modalities`` must include ``"image"``: this gateway serves image models, text-only chat is a 400.
- The prompt is the text of the last user message; its ``image_url`` parts are the input images. When it has
  none, the images of the latest earlier message that had any (an assistant's ``images``, or a user's parts) are
  edited: "make it night" after an image answer edits that image.
- ``image_config``: ``aspect_ratio`` and ``image_size`` (1K/2K/4K); ``provider``: OpenRouter's preference names,
  translated to ours (``sort: throughput`` ranks by latency, ``max_price`` may be ``{request, image}``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from imagegate.core.errors import InvalidRequest

IMAGE_SIZES = ("1K", "2K", "4K")
ROLES = ("system", "developer", "user", "assistant", "tool", "function")
# OpenRouter preferences that ask for guarantees about a provider's data handling we cannot vouch for
_UNVERIFIABLE = {"data_collection": "deny", "zdr": True}
_IGNORED = ("require_parameters", "quantizations", "preferred_min_throughput", "preferred_max_latency",
            "data_collection", "zdr")  # fmt: skip


@dataclass(slots=True)
class ImageRef:
    url: str
    field: str  # the parameter path named in errors, e.g. "messages[2].content[1].image_url"


@dataclass(slots=True)
class ChatFields:
    fields: dict[str, Any]  # for api.parsing.build_request
    images: list[ImageRef]
    stream: bool


def parse_chat(data: dict[str, Any]) -> ChatFields:
    model = data.get("model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest("Missing required parameter: 'model'.", param="model")
    _check_modalities(data.get("modalities"))
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' must be a non-empty list of messages.", param="messages")
    parsed = [_message(m, i) for i, m in enumerate(messages)]
    last_user = next((i for i in range(len(parsed) - 1, -1, -1) if parsed[i][0] == "user"), None)
    if last_user is None:
        raise InvalidRequest("'messages' needs a user message: its text is the image prompt.", param="messages")
    _role, text, images = parsed[last_user]
    if not text.strip():
        raise InvalidRequest(f"messages[{last_user}] has no text: the last user message is the image prompt.",
                             param=f"messages[{last_user}].content")  # fmt: skip
    if not images:
        images = next((imgs for _r, _t, imgs in reversed(parsed[:last_user]) if imgs), [])
    fields: dict[str, Any] = {"model": model, "prompt": text, "response_format": "b64_json"}
    for key in ("n", "seed", "user"):
        if data.get(key) is not None:
            fields[key] = data[key]
    fields.update(_image_config(data.get("image_config")))
    if data.get("provider") is not None:
        fields["provider"] = translate_preferences(data["provider"])
    stream = data.get("stream", False)
    if not isinstance(stream, bool):
        raise InvalidRequest("Invalid type for 'stream': expected a boolean.", param="stream")
    return ChatFields(fields, images, stream)


def _check_modalities(value: Any) -> None:
    if value is None or (isinstance(value, list) and "image" not in value):
        raise InvalidRequest(
            "This gateway serves image models: send 'modalities': ['image', 'text'] (text-only chat is not supported).",
            param="modalities",
        )
    if not isinstance(value, list) or not all(v in ("image", "text") for v in value):
        raise InvalidRequest("Invalid 'modalities': expected a list of 'image' and 'text'.", param="modalities")


def _message(msg: Any, i: int) -> tuple[str, str, list[ImageRef]]:
    """(role, text, images) of one message."""
    where = f"messages[{i}]"
    if not isinstance(msg, dict):
        raise InvalidRequest(f"Invalid '{where}': expected an object.", param=where)
    role = msg.get("role")
    if role not in ROLES:
        raise InvalidRequest(f"Invalid '{where}.role': {role!r}.", param=f"{where}.role")
    content = msg.get("content")
    texts: list[str] = []
    images: list[ImageRef] = []
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        for j, part in enumerate(content):
            _part(part, f"{where}.content[{j}]", texts, images)
    elif content is not None:
        raise InvalidRequest(f"Invalid '{where}.content': expected a string or a list of parts.",
                             param=f"{where}.content")  # fmt: skip
    for j, image in enumerate(msg.get("images") or []):  # an assistant's image answer sent back (multi-turn)
        _part(image, f"{where}.images[{j}]", texts, images)
    return role, "\n".join(t for t in texts if t), images


def _part(part: Any, where: str, texts: list[str], images: list[ImageRef]) -> None:
    if not isinstance(part, dict):
        raise InvalidRequest(f"Invalid '{where}': expected a content part object.", param=where)
    kind = part.get("type")
    if kind == "text":
        text = part.get("text")
        if not isinstance(text, str):
            raise InvalidRequest(f"Invalid '{where}.text': expected a string.", param=f"{where}.text")
        texts.append(text)
    elif kind == "image_url":
        ref = part.get("image_url")
        url = ref.get("url") if isinstance(ref, dict) else ref
        if not isinstance(url, str) or not url:
            raise InvalidRequest(f"Invalid '{where}.image_url': expected {{'url': ...}}.", param=f"{where}.image_url")
        images.append(ImageRef(url, f"{where}.image_url"))
    else:
        raise InvalidRequest(
            f"Invalid '{where}.type': {kind!r}. This gateway takes 'text' and 'image_url' parts.",
            param=f"{where}.type",
        )


def _image_config(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest("Invalid type for 'image_config': expected an object.", param="image_config")
    out: dict[str, Any] = {}
    ratio = value.get("aspect_ratio")
    if ratio is not None:
        if not isinstance(ratio, str):
            raise InvalidRequest("Invalid 'image_config.aspect_ratio': expected a string such as '16:9'.",
                                 param="image_config.aspect_ratio")  # fmt: skip
        out["aspect_ratio"] = ratio
    size = value.get("image_size")
    if size is not None:
        if not isinstance(size, str) or size.upper() not in IMAGE_SIZES:
            raise InvalidRequest(f"Invalid 'image_config.image_size': {size!r}. Supported values are: 1K, 2K, 4K.",
                                 param="image_config.image_size")  # fmt: skip
        out["resolution"] = size.upper()
    return out


def translate_preferences(value: Any) -> dict[str, Any]:
    """OpenRouter's ``provider`` object -> our preference fields (validated again by ``parse_preferences``)."""
    if not isinstance(value, dict):
        raise InvalidRequest("Invalid type for 'provider': expected an object.", param="provider")
    for key, refused in _UNVERIFIABLE.items():
        if value.get(key) == refused:
            raise InvalidRequest(f"'provider.{key}': {refused!r} cannot be guaranteed by this gateway.",
                                 param="provider")  # fmt: skip
    out = {k: v for k, v in value.items() if k not in _IGNORED}
    sort = out.get("sort")
    if isinstance(sort, dict):
        sort = sort.get("by")
    if sort == "throughput":
        sort = "latency"  # one image per request: throughput is the inverse of latency
    if sort is not None:
        out["sort"] = sort
    price = out.get("max_price")
    if isinstance(price, dict):
        limit = price.get("request", price.get("image"))
        if limit is None:
            out.pop("max_price")
        else:
            out["max_price"] = limit
    return out

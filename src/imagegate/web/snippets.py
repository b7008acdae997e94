"""The model page's code examples: cURL, JavaScript and Python (official openai SDKs) for this gateway.

The key comes from the ``IMAGEGATE_API_KEY`` environment variable in every snippet, so what is pasted runs as is.
The tests extract these snippets from the served page and run them against a live gateway.
"""

from __future__ import annotations

from dataclasses import dataclass

GENERATE_PROMPT = "A serene mountain landscape at sunset"
EDIT_PROMPT = "Add a starry night sky to this image"
SIZE = "1024x1024"
KEY_ENV = "IMAGEGATE_API_KEY"


@dataclass(frozen=True)
class Snippet:
    id: str  # element id on the page
    label: str  # "cURL", "JavaScript", "Python"
    lang: str  # fence language
    code: str


@dataclass(frozen=True)
class Example:
    id: str
    title: str
    snippets: tuple[Snippet, ...]


def _q(text: str) -> str:
    """A string literal valid in Python and JavaScript (double quotes, backslash escapes)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def examples(api_base: str, model_id: str, editing: bool) -> list[Example]:
    out = [Example("generation", "Text to Image (Generation)", _generation(api_base, model_id))]
    if editing:
        out.append(Example("editing", "Image Editing", _editing(api_base, model_id)))
    return out


def _generation(base: str, model: str) -> tuple[Snippet, ...]:
    files = base.rsplit("/v1", 1)[0] + "/files/..."
    curl = f"""curl -X POST \\
  {base}/images/generations \\
  -H "Authorization: Bearer ${KEY_ENV}" \\
  -H "Content-Type: application/json" \\
  -d '{{
    "model": {_q(model)},
    "prompt": {_q(GENERATE_PROMPT)},
    "size": {_q(SIZE)}
  }}'
# Response:
# {{ "created": 1234567890, "data": [{{ "url": "{files}" }}] }}"""
    js = f"""import OpenAI from "openai";

const client = new OpenAI({{
  apiKey: process.env.{KEY_ENV},
  baseURL: {_q(base)},
}});

const response = await client.images.generate({{
  model: {_q(model)},
  prompt: {_q(GENERATE_PROMPT)},
  size: {_q(SIZE)},
}});

// {{ created: 1234567890, data: [{{ url: "..." }}] }}
console.log(response.data[0].url);"""
    py = f"""import os

from openai import OpenAI

client = OpenAI(
    api_key=os.environ["{KEY_ENV}"],
    base_url={_q(base)},
)

response = client.images.generate(
    model={_q(model)},
    prompt={_q(GENERATE_PROMPT)},
    size={_q(SIZE)},
)

# {{ created: 1234567890, data: [{{ url: "..." }}] }}
print(response.data[0].url)"""
    return (
        Snippet("code-generation-curl", "cURL", "bash", curl),
        Snippet("code-generation-javascript", "JavaScript", "javascript", js),
        Snippet("code-generation-python", "Python", "python", py),
    )


def _editing(base: str, model: str) -> tuple[Snippet, ...]:
    curl = f"""curl -X POST \\
  {base}/images/edits \\
  -H "Authorization: Bearer ${KEY_ENV}" \\
  -F "model={model}" \\
  -F "image=@source.png" \\
  -F "prompt={EDIT_PROMPT}" \\
  -F "size={SIZE}"
# Response:
# {{ "created": 1234567890, "data": [{{ "url": "..." }}] }}"""
    js = f"""import fs from "fs";
import OpenAI, {{ toFile }} from "openai";

const client = new OpenAI({{
  apiKey: process.env.{KEY_ENV},
  baseURL: {_q(base)},
}});

const response = await client.images.edit({{
  model: {_q(model)},
  image: await toFile(fs.createReadStream("source.png"), "source.png", {{ type: "image/png" }}),
  prompt: {_q(EDIT_PROMPT)},
  size: {_q(SIZE)},
}});

// {{ created: 1234567890, data: [{{ url: "..." }}] }}
console.log(response.data[0].url);"""
    py = f"""import os

from openai import OpenAI

client = OpenAI(
    api_key=os.environ["{KEY_ENV}"],
    base_url={_q(base)},
)

response = client.images.edit(
    model={_q(model)},
    image=open("source.png", "rb"),
    prompt={_q(EDIT_PROMPT)},
    size={_q(SIZE)},
)

# {{ created: 1234567890, data: [{{ url: "..." }}] }}
print(response.data[0].url)"""
    return (
        Snippet("code-editing-curl", "cURL", "bash", curl),
        Snippet("code-editing-javascript", "JavaScript", "javascript", js),
        Snippet("code-editing-python", "Python", "python", py),
    )

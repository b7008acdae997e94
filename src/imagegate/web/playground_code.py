""" "Copy as code": exactly the playground's request in cURL, Python and JavaScript (the official openai SDKs).

The key is never written into the code: the snippets read ``IMAGEGATE_API_KEY`` from the environment.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

# Fields the openai SDKs take as named arguments; everything else travels in extra_body (Python) / the body (JS).
SDK_GENERATE = ("model", "prompt", "n", "size", "quality", "response_format", "output_format", "output_compression")
SDK_EDIT = ("model", "prompt", "n", "size", "quality", "response_format")


def snippets(
    api_base: str, operation: str, fields: dict[str, Any], files: list[str], mask: str | None, auth: bool
) -> dict[str, str]:
    return {
        "curl": curl(api_base, operation, fields, files, mask, auth),
        "python": python(api_base, operation, fields, files, mask, auth),
        "javascript": javascript(api_base, operation, fields, files, mask, auth),
    }


def curl(api_base: str, operation: str, fields: dict[str, Any], files: list[str], mask: str | None, auth: bool) -> str:
    lines = [f"curl {shlex.quote(api_base + ('/images/generations' if operation == 'generate' else '/images/edits'))}"]
    if auth:
        lines.append('-H "Authorization: Bearer $IMAGEGATE_API_KEY"')
    if operation == "generate":
        lines.append('-H "Content-Type: application/json"')
        lines.append("-d " + shlex.quote(json.dumps(fields, ensure_ascii=False)))
    else:
        for key, value in fields.items():
            text = json.dumps(value) if isinstance(value, dict) else str(value)
            lines.append("-F " + shlex.quote(f"{key}={text}"))
        lines += ["-F " + shlex.quote(f"image[]=@{name}") for name in files]
        if mask:
            lines.append("-F " + shlex.quote(f"mask=@{mask}"))
    return " \\\n  ".join(lines)


def _py(value: Any) -> str:
    return repr(value)


def python(
    api_base: str, operation: str, fields: dict[str, Any], files: list[str], mask: str | None, auth: bool
) -> str:
    named = SDK_GENERATE if operation == "generate" else SDK_EDIT
    key = 'os.environ["IMAGEGATE_API_KEY"]' if auth else '"anything"'
    args = [f"{k}={_py(v)}" for k, v in fields.items() if k in named]
    if operation == "edit":
        images = ", ".join(f"open({_py(name)}, 'rb')" for name in files)
        args.insert(1, f"image=[{images}]")
        if mask:
            args.insert(2, f"mask=open({_py(mask)}, 'rb')")
    extra = {k: v for k, v in fields.items() if k not in named}
    if extra:
        args.append(f"extra_body={_py(extra)}")
    call = "generate" if operation == "generate" else "edit"
    body = ",\n    ".join(args)
    lines = [
        *(["import os", ""] if auth else []),
        "from openai import OpenAI",
        "",
        f"client = OpenAI(base_url={_py(api_base)}, api_key={key})",
        f"result = client.images.{call}(\n    {body},\n)",
        "print(result.data[0].url)",
    ]
    return "\n".join(lines)


def javascript(
    api_base: str, operation: str, fields: dict[str, Any], files: list[str], mask: str | None, auth: bool
) -> str:
    key = "process.env.IMAGEGATE_API_KEY" if auth else '"anything"'
    params = {k: v for k, v in fields.items()}
    entries = [f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}," for k, v in params.items()]
    head = ['import OpenAI, { toFile } from "openai";' if operation == "edit" else 'import OpenAI from "openai";']
    if operation == "edit":
        head.insert(0, 'import fs from "node:fs";')
        images = ", ".join(f"await toFile(fs.createReadStream({json.dumps(n)}))" for n in files)
        entries.insert(1, f"  image: [{images}],")
        if mask:
            entries.insert(2, f"  mask: await toFile(fs.createReadStream({json.dumps(mask)})),")
    call = "generate" if operation == "generate" else "edit"
    return "\n".join(
        [
            *head,
            "",
            f"const client = new OpenAI({{ baseURL: {json.dumps(api_base)}, apiKey: {key} }});",
            f"const result = await client.images.{call}({{",
            *entries,
            "});",
            "console.log(result.data[0].url);",
        ]
    )

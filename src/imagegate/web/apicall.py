"""Call this gateway's own public API in-process (an ASGI call into the same app), as the browser's API key.

The playground goes through exactly what a client gets (validation, routing, error shapes, the request log), with no
socket and no second copy of the pipeline's logic.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.requests import Request


@dataclass
class ApiReply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body) if self.body else None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def error_message(self) -> str:
        try:
            return str(self.json()["error"]["message"])
        except Exception:
            return f"The API answered {self.status}."


@dataclass
class UploadPart:
    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class Multipart:
    fields: dict[str, str]
    files: list[UploadPart] = field(default_factory=list)

    def encode(self) -> tuple[bytes, str]:
        boundary = "imagegate" + secrets.token_hex(12)
        out = bytearray()
        for name, value in self.fields.items():
            out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            out += value.encode() + b"\r\n"
        for f in self.files:
            safe = f.filename.replace('"', "").replace("\r", "").replace("\n", "") or "upload"
            out += (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{f.field}"; filename="{safe}"\r\n'
                f"Content-Type: {f.content_type}\r\n\r\n"
            ).encode()
            out += f.data + b"\r\n"
        out += f"--{boundary}--\r\n".encode()
        return bytes(out), f"multipart/form-data; boundary={boundary}"


async def call_api(
    request: Request,
    method: str,
    path: str,
    *,
    key: str | None,
    json: Any = None,
    form: Multipart | None = None,
    query: str = "",
) -> ApiReply:
    """One request to ``path`` on this app; ``key`` (if any) goes in the Authorization header only."""
    if form is not None:
        body, ctype = form.encode()
    elif json is not None:
        body, ctype = orjson.dumps(json), "application/json"
    else:
        body, ctype = b"", ""
    headers = [(b"content-length", str(len(body)).encode()), (b"host", request.headers.get("host", "").encode())]
    if ctype:
        headers.append((b"content-type", ctype.encode()))
    if key:
        headers.append((b"authorization", f"Bearer {key}".encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": request.url.scheme,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": request.scope.get("client"),
        "server": request.scope.get("server"),
    }
    done = asyncio.Event()
    sent_body = False

    async def receive() -> dict[str, Any]:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()  # the "client" stays connected until the response is complete
        return {"type": "http.disconnect"}

    status = 500
    reply_headers: dict[str, str] = {}
    chunks: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            reply_headers.update((k.decode().lower(), v.decode()) for k, v in message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(bytes(message.get("body", b"")))
            if not message.get("more_body"):
                done.set()

    try:
        await request.app(scope, receive, send)
    finally:
        done.set()
    return ApiReply(status, reply_headers, b"".join(chunks))

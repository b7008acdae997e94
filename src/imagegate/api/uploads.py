"""``POST /v1/files``, ``GET /v1/files[/{id}[/content]]``, ``DELETE /v1/files/{id}`` (OpenAI's Files API, for
batches). An upload's file part is streamed to disk as it arrives, never held in memory."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from typing import IO

import orjson
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from imagegate.api.multipart import _Collector, read_multipart
from imagegate.core.errors import GatewayError, InvalidRequest
from imagegate.jobs.batches.files import file_json

PURPOSES = ("batch",)


class _DiskCollector(_Collector):
    """Keeps text fields like its parent, but writes the one file part to ``sink``."""

    def __init__(self, sink: IO[bytes]) -> None:
        super().__init__()
        self.sink = sink
        self.files_seen = 0
        self.filename: str | None = None

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._filename is None:
            super().on_part_data(data, start, end)
        else:
            self.sink.write(data[start:end])

    def on_part_end(self) -> None:
        if self._filename is None:
            super().on_part_end()
            return
        self.files_seen += 1
        if self.files_seen > 1 or self._name != "file":
            raise InvalidRequest("Send exactly one file, in the 'file' field.", param="file")
        self.filename = self._filename


def _json(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _not_found(file_id: str) -> GatewayError:
    return GatewayError(f"No such File object: {file_id}", status=404, code="FILE_NOT_FOUND")


async def create_file(request: Request) -> Response:
    services = request.app.state.services
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidRequest("POST /v1/files expects a multipart/form-data body with 'purpose' and 'file'.")
    store = services.work.batches.files
    path = store.scratch(f".upload-{secrets.token_hex(8)}")
    try:
        with open(path, "wb") as sink:
            collector = _DiskCollector(sink)
            form = await read_multipart(
                request.headers.get("content-type", ""),
                request.stream(),
                max_bytes=services.settings.batch_max_file_bytes,
                collector=collector,
            )
        purpose = form.fields.get("purpose")
        if purpose not in PURPOSES:
            raise InvalidRequest(f"Invalid 'purpose': {purpose!r}. Supported values are: 'batch'.", param="purpose")
        if collector.filename is None:
            raise InvalidRequest("Missing required parameter: 'file'.", param="file")
        file_id = "file-" + secrets.token_hex(12)
        final = store.scratch(f"{file_id}.jsonl")
        os.replace(path, final)
        row = await asyncio.to_thread(
            store.add, request.state.key_id or "", purpose, collector.filename, final, file_id
        )
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    return _json(file_json(row))


async def retrieve_file(request: Request) -> Response:
    store = request.app.state.services.work.batches.files
    file_id = request.path_params["file_id"]
    row = await asyncio.to_thread(store.get, file_id, request.state.key_id or "")
    if row is None:
        raise _not_found(file_id)
    return _json(file_json(row))


async def list_files(request: Request) -> Response:
    store = request.app.state.services.work.batches.files
    purpose = request.query_params.get("purpose")
    rows = await asyncio.to_thread(store.list, request.state.key_id or "", purpose)
    return _json({"object": "list", "data": [file_json(r) for r in rows], "has_more": False})


async def file_content(request: Request) -> Response:
    store = request.app.state.services.work.batches.files
    file_id = request.path_params["file_id"]
    row = await asyncio.to_thread(store.get, file_id, request.state.key_id or "")
    if row is None:
        raise _not_found(file_id)
    return FileResponse(store.path(row), media_type="application/jsonl", filename=row.filename)


async def delete_file(request: Request) -> Response:
    store = request.app.state.services.work.batches.files
    file_id = request.path_params["file_id"]
    if not await asyncio.to_thread(store.delete, file_id, request.state.key_id or ""):
        raise _not_found(file_id)
    return _json({"id": file_id, "object": "file", "deleted": True})

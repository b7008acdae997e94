"""Streaming multipart/form-data reader with limits enforced while reading.

The body is fed to python-multipart chunk by chunk as it arrives; the total size, the number of
parts and the size of text fields are checked on every chunk, so an oversized upload is refused
without buffering it first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from imagegate.api.body import capped
from imagegate.core.errors import InvalidRequest

MAX_PARTS = 64
MAX_FIELD_BYTES = 256 * 1024
MAX_BOUNDARY_CHARS = 70  # RFC 2046 section 5.1.1


@dataclass(slots=True)
class UploadedFile:
    field: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass(slots=True)
class FormData:
    fields: dict[str, str] = field(default_factory=dict)
    files: list[UploadedFile] = field(default_factory=list)


class _Collector:
    """python-multipart callbacks that assemble parts and enforce per-part limits."""

    def __init__(self) -> None:
        self.form = FormData()
        self.parts = 0
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._chunks: list[bytes] = []
        self._size = 0
        self._name = ""
        self._filename: str | None = None
        self._ctype: str | None = None
        self.ended = False  # the closing boundary was seen

    def on_end(self) -> None:
        self.ended = True

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise InvalidRequest(f"Too many multipart parts (the maximum is {MAX_PARTS}).")
        self._headers = {}
        self._chunks = []
        self._size = 0

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[bytes(self._header_field).lower()] = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def on_headers_finished(self) -> None:
        disposition, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        if disposition != b"form-data" or b"name" not in options:
            raise InvalidRequest("Malformed multipart body: a part has no form-data name.")
        self._name = options[b"name"].decode("utf-8", "replace")
        raw_filename = options.get(b"filename")
        self._filename = raw_filename.decode("utf-8", "replace") if raw_filename is not None else None
        ctype = self._headers.get(b"content-type")
        self._ctype = ctype.decode("latin-1") if ctype else None

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self._size += end - start
        if self._filename is None and self._size > MAX_FIELD_BYTES:
            raise InvalidRequest(f"Form field '{self._name}' is too large.", param=self._name)
        self._chunks.append(data[start:end])

    def on_part_end(self) -> None:
        payload = b"".join(self._chunks)
        self._chunks = []
        if self._filename is not None:
            self.form.files.append(UploadedFile(self._name, self._filename, self._ctype, payload))
        else:
            try:
                self.form.fields[self._name] = payload.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidRequest(f"Form field '{self._name}' is not valid UTF-8.", param=self._name) from None


async def read_multipart(
    content_type: str, stream: AsyncIterator[bytes], *, max_bytes: int, collector: _Collector | None = None
) -> FormData:
    """Parse a multipart body from ``stream``; refuse it (413) as soon as it passes ``max_bytes``. ``collector``: a
    subclass that keeps file parts elsewhere (``api/uploads.py`` streams them to disk)."""
    ctype, params = parse_options_header(content_type)
    if ctype != b"multipart/form-data":
        raise InvalidRequest("Expected a multipart/form-data body for image edits.")
    boundary = params.get(b"boundary")
    if not boundary:
        raise InvalidRequest("Malformed multipart body: the Content-Type has no boundary.")
    if len(boundary) > MAX_BOUNDARY_CHARS:
        raise InvalidRequest(
            f"Malformed multipart body: the Content-Type's boundary is {len(boundary)} characters long, "
            f"the maximum is {MAX_BOUNDARY_CHARS} (RFC 2046)."
        )
    collector = collector or _Collector()
    callbacks = {
        "on_part_begin": collector.on_part_begin,
        "on_part_data": collector.on_part_data,
        "on_part_end": collector.on_part_end,
        "on_header_field": collector.on_header_field,
        "on_header_value": collector.on_header_value,
        "on_header_end": collector.on_header_end,
        "on_headers_finished": collector.on_headers_finished,
        "on_end": collector.on_end,
    }
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    try:
        async for chunk in capped(stream, max_bytes):
            if chunk:
                parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        raise InvalidRequest(f"Malformed multipart body: {exc}") from None
    if collector.parts == 0:
        raise InvalidRequest("Malformed multipart body: no parts found.")
    if not collector.ended:
        raise InvalidRequest("Malformed multipart body: the body is truncated (its closing boundary is missing).")
    return collector.form

"""The Gemini API's batch mode: upload a JSONL file of ``{"key", "request"}``, ``models/{m}:batchGenerateContent``,
poll ``batches/{id}`` to a final state, download the responses file. Files are streamed from and to disk.

States come back as ``BATCH_STATE_*`` (REST) or ``JOB_STATE_*``; both are mapped to ``pending | running |
succeeded | failed | cancelled | expired``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import aiohttp
import orjson

from imagegate.core.errors import ProviderError, Unavailable
from imagegate.providers.gemini import API_VERSION, DEFAULT_BASE_URL
from imagegate.settings import ProviderSettings

_STATES = {
    "PENDING": "pending",
    "RUNNING": "running",
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "CANCELLED": "cancelled",
    "EXPIRED": "expired",
}
FINAL = ("succeeded", "failed", "cancelled", "expired")


@dataclass(slots=True)
class BatchStatus:
    state: str
    responses_file: str | None = None
    error: str | None = None


def state_of(raw: str | None) -> str:
    suffix = (raw or "").rsplit("_STATE_", 1)[-1]
    return _STATES.get(suffix, "pending")


class GeminiBatchAPI:
    def __init__(self, settings: ProviderSettings, timeout_s: float = 600.0) -> None:
        self._key = settings.api_key or ""
        self._base = (settings.base_url or DEFAULT_BASE_URL).rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, connect=settings.connect_timeout_s)

    def _headers(self, **extra: str) -> dict[str, str]:
        return {"x-goog-api-key": self._key, **extra}

    async def _check(self, resp: aiohttp.ClientResponse, what: str) -> None:
        if resp.status >= 400:
            text = (await resp.text())[:300]
            raise ProviderError(
                f"gemini batch: {what} failed (HTTP {resp.status}): {text}", provider="gemini", status=resp.status
            )

    async def upload(self, path: Path, display_name: str) -> str:
        """Upload ``path`` (resumable protocol, one streamed chunk); returns the file's name (``files/...``)."""
        size = path.stat().st_size
        start = self._headers(
            **{
                "x-goog-upload-protocol": "resumable",
                "x-goog-upload-command": "start",
                "x-goog-upload-header-content-length": str(size),
                "x-goog-upload-header-content-type": "application/jsonl",
                "content-type": "application/json",
            }
        )
        body = orjson.dumps({"file": {"displayName": display_name, "mimeType": "application/jsonl"}})
        async with aiohttp.ClientSession(timeout=self._timeout) as session:
            async with session.post(f"{self._base}/upload/{API_VERSION}/files", data=body, headers=start) as resp:
                await self._check(resp, "starting the upload")
                url = resp.headers.get("x-goog-upload-url")
            if not url:
                raise Unavailable("gemini batch: the upload was not given a URL", provider="gemini")
            headers = {
                "x-goog-upload-command": "upload, finalize",
                "x-goog-upload-offset": "0",
                "content-length": str(size),
            }
            with open(path, "rb") as fh:
                async with session.post(url, data=fh, headers=headers) as resp:
                    await self._check(resp, "uploading the requests")
                    return str((await resp.json(content_type=None))["file"]["name"])

    async def create(self, model: str, file_name: str, display_name: str) -> str:
        """Start a batch over an uploaded file; returns its name (``batches/...``). Not idempotent."""
        url = f"{self._base}/{API_VERSION}/models/{quote(model, safe='-._~')}:batchGenerateContent"
        body = {"batch": {"displayName": display_name, "inputConfig": {"fileName": file_name}}}
        async with (
            aiohttp.ClientSession(timeout=self._timeout) as session,
            session.post(url, json=body, headers=self._headers()) as resp,
        ):
            await self._check(resp, "creating the batch")
            return str((await resp.json(content_type=None))["name"])

    async def get(self, name: str) -> BatchStatus:
        async with (
            aiohttp.ClientSession(timeout=self._timeout) as session,
            session.get(f"{self._base}/{API_VERSION}/{name}", headers=self._headers()) as resp,
        ):
            await self._check(resp, "polling the batch")
            op = await resp.json(content_type=None)
        meta = op.get("metadata") or {}
        output = meta.get("output") or (op.get("response") or {})
        error = (op.get("error") or {}).get("message")
        return BatchStatus(state_of(meta.get("state")), output.get("responsesFile"), error)

    async def cancel(self, name: str) -> None:
        async with (
            aiohttp.ClientSession(timeout=self._timeout) as session,
            session.post(f"{self._base}/{API_VERSION}/{name}:cancel", headers=self._headers()) as resp,
        ):
            await self._check(resp, "cancelling the batch")

    async def download(self, file_name: str, dest: Path) -> None:
        """Stream a responses file to ``dest``."""
        url = f"{self._base}/download/{API_VERSION}/{file_name}:download?alt=media"
        async with (
            aiohttp.ClientSession(timeout=self._timeout) as session,
            session.get(url, headers=self._headers()) as resp,
        ):
            await self._check(resp, "downloading the results")
            with open(dest, "wb") as fh:
                async for chunk in resp.content.iter_chunked(1 << 16):
                    fh.write(chunk)

"""Provider batch mode: a batch whose every line can go to the Gemini API's batch mode runs there, at the catalog's
batch prices, instead of line by line.

The lines become one JSONL file of ``{"key": custom_id, "request": <generateContent body>}`` (built by the Gemini
adapter's own ``build_body``), uploaded and submitted once (the provider's batch name is stored before anything
else, so a restarted runner polls it instead of submitting again), polled to a final state, and the responses file
is downloaded and turned into Images answers exactly as the interactive path would (``parse_response``,
``normalise``, ``answer_body``), priced with ``batch=True``.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from imagegate.answer import answer_body
from imagegate.core.errors import GatewayError, ProviderError, UpstreamError
from imagegate.jobs.batches.eligible import PROVIDER, provider_plan
from imagegate.jobs.batches.lines import BatchLine, iter_lines_at, line_at, parse_line
from imagegate.jobs.batches.run import BatchRun, result_line
from imagegate.jobs.batches.seen import OffsetIndex, SeenIds
from imagegate.media.convert import normalise
from imagegate.pipeline import Planned
from imagegate.providers.base import ProviderCall
from imagegate.providers.gemini_batch import FINAL, GeminiBatchAPI
from imagegate.providers.google_common import build_body, parse_response
from imagegate.telemetry.recorder import RequestRecord

if TYPE_CHECKING:
    from imagegate.jobs.batches.service import Batches


class ProviderBatchRun(BatchRun):
    def __init__(self, batches: Batches, row: Any, runner: str, api: GeminiBatchAPI, poll_s: float) -> None:
        super().__init__(batches, row, runner)
        self.api = api
        self.poll_s = poll_s
        self.started = time.monotonic()

    def _line(self, raw: bytes, number: int) -> tuple[BatchLine, Planned]:
        cfg = self.batches.config
        line = parse_line(raw, number, self.row.endpoint, self.batches.limits, cfg.max_image_pixels)
        planned = provider_plan(self.batches.executor.gateway, line.request)
        if planned is None:
            raise GatewayError(f"Line {number} can no longer run in Gemini batch mode.", status=400)
        return line, planned

    def _write_requests(self, src: Path, dest: Path, index: OffsetIndex) -> str:
        """The provider's JSONL, and the index of input lines by custom id; returns the provider model id."""
        model = ""
        with open(dest, "wb") as fh:
            for number, offset, raw in iter_lines_at(src):
                line, planned = self._line(raw, number)
                index.put(line.custom_id, offset)
                model = model or planned.offer.provider_model_id
                call = ProviderCall(line.request, planned.offer, planned.spec, line.request.n, time.monotonic() + 1e6)
                body = build_body(call, vertex=False)
                fh.write(orjson.dumps({"key": line.custom_id, "request": body}) + b"\n")
        return model

    def _index(self, src: Path, index: OffsetIndex) -> None:
        for number, offset, raw in iter_lines_at(src):
            index.put(
                parse_line(
                    raw, number, self.row.endpoint, self.batches.limits, self.batches.config.max_image_pixels
                ).custom_id,
                offset,
            )

    async def _run_lines(self, done: SeenIds, out: IO[bytes], err: IO[bytes]) -> None:
        files, store = self.batches.files, self.batches.store
        input_row = await asyncio.to_thread(files.get, self.row.input_file_id, self.row.owner)
        if input_row is None:
            raise GatewayError("The batch's input file was deleted.", status=400, code="FILE_NOT_FOUND")
        src = files.path(input_row)
        index = OffsetIndex()
        try:
            name = self.row.provider_batch
            if not name:
                requests = files.scratch(f"{self.row.id}.gemini-requests.jsonl")
                model = await asyncio.to_thread(self._write_requests, src, requests, index)
                uploaded = await self.api.upload(requests, self.row.id)
                name = await self.api.create(model, uploaded, self.row.id)
                await asyncio.to_thread(store.set_provider_batch, self.row.id, self.runner, name)
                requests.unlink(missing_ok=True)
            else:
                await asyncio.to_thread(self._index, src, index)
            status = await self.api.get(name)
            while status.state not in FINAL:
                if self.stop.is_set():
                    await self.api.cancel(name)
                await asyncio.sleep(self.poll_s)  # the provider's batch is polled, like Google's own SDK does
                status = await self.api.get(name)
            if status.state != "succeeded" or not status.responses_file:
                if status.state == "cancelled":
                    self.stop.set()
                    return
                raise GatewayError(
                    f"The Gemini batch {name} ended {status.state}: {status.error or 'no reason'}",
                    status=502,
                    code="PROVIDER_BATCH_FAILED",
                )
            results = files.scratch(f"{self.row.id}.gemini-results.jsonl")
            await self.api.download(status.responses_file, results)
            await self._answer(src, results, index, done, out, err, name)
            results.unlink(missing_ok=True)
        finally:
            index.close()

    async def _answer(
        self, src: Path, results: Path, index: OffsetIndex, done: SeenIds, out: IO[bytes], err: IO[bytes], name: str
    ) -> None:
        with open(results, "rb") as fh:
            for raw in fh:
                if not raw.strip():
                    continue
                item = orjson.loads(raw)
                key = item.get("key") or (item.get("metadata") or {}).get("key")
                if not isinstance(key, str):
                    continue
                offset = index.get(key)
                if offset is None or not done.add(key):
                    continue  # not ours, or answered before a restart
                await self._one_result(src, offset, key, item, out, err, name)
        for key in index.iter_ids():  # every line gets an answer, even one the provider dropped
            if done.add(key):
                error = GatewayError(
                    "The provider's batch returned no result for this line.",
                    status=502,
                    code="PROVIDER_BATCH_INCOMPLETE",
                )
                self._write(err, result_line(key, error.status, "", error.body()), ok=False)

    async def _one_result(
        self, src: Path, offset: int, key: str, item: dict[str, Any], out: IO[bytes], err: IO[bytes], name: str
    ) -> None:
        line, planned = self._line(line_at(src, offset), 0)
        request = line.request
        request.request_id = "req_" + secrets.token_hex(12)
        request.key_id = self.row.owner or None
        try:
            if "error" in item:
                e = item["error"] or {}
                raise UpstreamError(
                    f"gemini refused the request: {e.get('message', 'error')}",
                    details={"provider": PROVIDER, "reason": e.get("status")},
                )
            images_in = len(request.images) + (request.mask is not None)
            result = parse_response(item.get("response"), PROVIDER, input_images=images_in)
        except ProviderError as exc:
            error = UpstreamError(
                f"gemini refused the request: {exc.message}", details={"provider": PROVIDER, "reason": exc.reason}
            )
            self._write(err, result_line(key, error.status, request.request_id, error.body()), ok=False)
            return
        except GatewayError as exc:
            self._write(err, result_line(key, exc.status, request.request_id, exc.body()), ok=False)
            return
        gateway = self.batches.executor.gateway
        images = await normalise(
            result.images,
            output_format=request.output_format,
            compression=request.output_compression,
            want_b64=False,
            background=request.background,
        )
        extras = [{"revised_prompt": result.text} if result.text else {} for _ in images]
        data = await self.batches.executor.render(request, [(i.data or b"", i.mime_type) for i in images], extras)
        offer = planned.offer
        cost = gateway.pricer.cost(result.usage, offer, resolution=planned.spec.resolution, batch=True)
        model_id = gateway.catalog.resolve(request.model)[0].id
        body = answer_body(request, model_id, offer, result, data, cost.total_micros, [])
        body["metadata"]["batch"] = {"mode": "provider", "provider_batch": name}
        self.cost_micros += cost.total_micros
        tenancy = self.batches.executor.tenancy
        if tenancy is not None:  # no hold was taken for a provider batch's line: its spend is charged now
            await tenancy.charge(request.key_id, model_id, cost.total_micros)
        self._write(out, result_line(key, 200, request.request_id, body), ok=True)
        gateway.recorder.record(  # in the request log like any answered request (no attempts: no live call)
            RequestRecord(
                id=request.request_id,
                created_at=time.time(),
                model=request.model,
                operation=request.operation,
                status=200,
                latency_ms=(time.monotonic() - self.started) * 1000,  # the batch's turnaround so far
                model_id=model_id,
                key_id=request.key_id,
                provider=offer.provider,
                provider_model_id=offer.provider_model_id,
                cost_micros=cost.total_micros,
                image_count=len(images),
                image_bytes=sum(len(i.data or b"") for i in images),
                prompt=request.prompt if gateway.log_prompts else None,
                user=request.user,
            )
        )

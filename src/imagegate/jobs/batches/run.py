"""Running one batch: input lines streamed from disk through the pipeline at bounded concurrency, each answer
appended to the output (or error) file as it comes.

The output and error files are the record of what is done: a batch taken over after its runner died first reads
them (dropping a torn last line) and skips every ``custom_id`` already there, so no line is lost or answered twice.
Memory is bounded by the concurrency, not by the file (finished ids are kept in an on-disk set, ``seen.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from imagegate.core.errors import GatewayError
from imagegate.jobs.batches.lines import BatchLine, LineError, iter_lines, parse_line
from imagegate.jobs.batches.seen import SeenIds
from imagegate.jobs.execute import plain_body
from imagegate.store.job_models import BatchRow

if TYPE_CHECKING:
    from imagegate.jobs.batches.service import Batches

log = logging.getLogger("imagegate.jobs")


def _resume(path: Path, done: SeenIds) -> int:
    """Add the ``custom_id`` of every complete line of ``path`` to ``done`` (how many); a torn last line is cut off."""
    if not path.exists():
        return 0
    good = count = 0
    with open(path, "rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                break
            try:
                done.add(orjson.loads(raw)["custom_id"])
            except (orjson.JSONDecodeError, KeyError, TypeError):
                break
            good += len(raw)
            count += 1
    if good != path.stat().st_size:
        os.truncate(path, good)
    return count


def result_line(custom_id: str, status: int, request_id: str, body: dict[str, Any]) -> bytes:
    return (
        orjson.dumps(
            {
                "id": "batch_req_" + secrets.token_hex(12),
                "custom_id": custom_id,
                "response": {"status_code": status, "request_id": request_id, "body": body},
                "error": None,
            }
        )
        + b"\n"
    )


class BatchRun:
    def __init__(self, batches: Batches, row: BatchRow, runner: str) -> None:
        self.batches = batches
        self.row = row
        self.runner = runner
        files = batches.files
        self.out_path = files.scratch(f"{row.id}.output.jsonl")
        self.err_path = files.scratch(f"{row.id}.errors.jsonl")
        self.completed = 0
        self.failed = 0
        self.cost_micros = 0
        self.stop = asyncio.Event()
        self.running: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        cfg = self.batches.config
        done = SeenIds()  # on disk: resuming a 50,000-line batch holds no more memory than a small one
        self.completed = await asyncio.to_thread(_resume, self.out_path, done)
        self.failed = await asyncio.to_thread(_resume, self.err_path, done)
        keeper = asyncio.create_task(self._keep_lease())
        try:
            with open(self.out_path, "ab") as out, open(self.err_path, "ab") as err:
                await self._run_lines(done, out, err)
        except GatewayError as exc:  # the batch cannot run at all (its input file is gone)
            error = {"code": exc.code.lower(), "message": exc.message, "param": None, "line": None}
            await asyncio.to_thread(self.batches.store.fail, self.row.id, self.runner, error)
            return
        finally:
            done.close()
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
        await self._finish(cancelled=self.stop.is_set())
        log.info(
            "batch %s: %d completed, %d failed (concurrency %d)",
            self.row.id,
            self.completed,
            self.failed,
            cfg.concurrency,
        )

    async def _run_lines(self, done: SeenIds, out: IO[bytes], err: IO[bytes]) -> None:
        input_row = await asyncio.to_thread(self.batches.files.get, self.row.input_file_id, self.row.owner)
        if input_row is None:
            raise GatewayError("The batch's input file was deleted.", status=400, code="FILE_NOT_FOUND")
        running = self.running
        lines = iter_lines(self.batches.files.path(input_row))
        try:
            await self._feed(lines, done, out, err)
            if running:
                await asyncio.gather(*running, return_exceptions=True)
        finally:
            for task in list(running):  # shutting down (or cancelled): lines in flight are not answered
                task.cancel()

    async def _feed(self, lines: Iterator[tuple[int, bytes]], done: SeenIds, out: IO[bytes], err: IO[bytes]) -> None:
        """Start a task per line not yet answered, at most ``concurrency`` at once, until the file or a stop."""
        cfg = self.batches.config
        slots = asyncio.Semaphore(cfg.concurrency)
        while not self.stop.is_set():
            item = await asyncio.to_thread(next, lines, None)  # a file read: off the loop
            if item is None:
                return
            number, raw = item
            try:
                line = parse_line(raw, number, self.row.endpoint, self.batches.limits, cfg.max_image_pixels)
            except (LineError, GatewayError) as exc:  # validated at creation; kept safe anyway
                custom_id = _custom_id(raw, number)
                if custom_id not in done:
                    self._write(err, result_line(custom_id, 400, "", {"error": {"message": str(exc)}}), ok=False)
                continue
            if line.custom_id in done:
                continue
            await slots.acquire()
            if self.stop.is_set():
                slots.release()
                return
            task = asyncio.create_task(self._one(line, out, err))
            self.running.add(task)
            task.add_done_callback(self.running.discard)
            task.add_done_callback(lambda _t: slots.release())

    async def _one(self, line: BatchLine, out: IO[bytes], err: IO[bytes]) -> None:
        request = line.request
        request.request_id = "req_" + secrets.token_hex(12)
        request.key_id = self.row.owner or None
        try:
            outcome = await self.batches.executor.live(request)
        except GatewayError as exc:
            self._write(err, result_line(line.custom_id, exc.status, request.request_id, exc.body()), ok=False)
            return
        except Exception as exc:  # noqa: BLE001 - a line that breaks is reported, never lost
            log.error("batch %s line %d failed: %s", self.row.id, line.number, type(exc).__name__)
            body = {"error": {"message": "internal error", "code": "INTERNAL_ERROR"}}
            self._write(err, result_line(line.custom_id, 500, request.request_id, body), ok=False)
            return
        self.cost_micros += outcome.cost_micros
        self._write(out, result_line(line.custom_id, 200, request.request_id, plain_body(outcome.body)), ok=True)

    def _write(self, fh: IO[bytes], data: bytes, *, ok: bool) -> None:
        fh.write(data)
        fh.flush()  # a whole line reaches the file before the count moves
        if ok:
            self.completed += 1
        else:
            self.failed += 1

    async def _keep_lease(self) -> None:
        cfg, store = self.batches.config, self.batches.store
        while True:
            await asyncio.sleep(cfg.lease_s / 3)
            status = await asyncio.to_thread(
                store.renew, self.row.id, self.runner, cfg.lease_s, self.completed, self.failed, self.cost_micros
            )
            if status != "in_progress":
                self.stop.set()  # cancelled (or taken over): start no new lines, stop the ones in flight
                for task in list(self.running):
                    task.cancel()

    async def _finish(self, cancelled: bool) -> None:
        files, owner, batch_id = self.batches.files, self.row.owner, self.row.id
        out_id = err_id = None
        if self.out_path.stat().st_size:
            out_id = (
                await asyncio.to_thread(files.add, owner, "batch_output", f"{batch_id}_output.jsonl", self.out_path)
            ).id
        if self.err_path.stat().st_size:
            err_id = (
                await asyncio.to_thread(files.add, owner, "batch_output", f"{batch_id}_error.jsonl", self.err_path)
            ).id
        current = await asyncio.to_thread(self.batches.store.get, batch_id)
        cancelled = cancelled or (current is not None and current.status == "cancelling")
        await asyncio.to_thread(
            self.batches.store.finish,
            batch_id,
            self.runner,
            cancelled=cancelled,
            output_file_id=out_id,
            error_file_id=err_id,
            completed=self.completed,
            failed=self.failed,
            cost_micros=self.cost_micros,
        )


def _custom_id(raw: bytes, number: int) -> str:
    with contextlib.suppress(Exception):
        value = orjson.loads(raw).get("custom_id")
        if isinstance(value, str) and value:
            return value
    return f"line-{number}"

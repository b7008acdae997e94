"""Closed-loop HTTP/1.1 load generator: N keep-alive connections, each sending the next request when the last
answer is complete. Raw ``asyncio.Protocol`` on uvloop with prebuilt request bytes, so one process costs little
CPU per request. Latency is ``perf_counter`` from write to the last body byte.

Three modes, each printing one JSON object on stdout:

- ``loop`` (default): run ``--warmup-s`` then ``--duration-s``; latencies of the measured window only.
- ``once``: every connection sends one request (the hold test); opened in batches so the listen backlog holds.
- ``job``: an async image job per iteration: ``POST`` the body with ``Prefer: respond-async`` (202 and the job),
  then ``GET /v1/jobs/{id}`` on the same connection, right away and then every ``--poll-interval-s``, until the job
  has ``succeeded`` (or failed); latency is from the submit's write to the last byte of the answer that holds the
  result, so it includes up to one poll interval of waiting. ``polls`` counts the ``GET`` requests.

Run: ``python loadgen.py --port 8080 --path /v1/images/generations --body '{...}' -c 16 --duration-s 5``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable

_LATENCY_SAMPLE_CAP = 200_000


class ClientProtocol(asyncio.Protocol):
    """Parses one response at a time (Content-Length or chunked) without keeping the body."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.closed = asyncio.get_running_loop().create_future()
        self.status = 0
        self.remaining = -1  # body bytes still to come (Content-Length mode)
        self.chunked = False
        self.first_error_body = b""
        self.keep_body = False  # job mode: the answers are read
        self.body = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.remaining > 0 and not self.buf:
            # The common large-body case: count bytes without copying them.
            if len(data) <= self.remaining:
                if self.keep_body:
                    self.body += data
                self.remaining -= len(data)
                if self.remaining == 0:
                    self._done()
                return
            if self.keep_body:
                self.body += data[: self.remaining]
            data = data[self.remaining :]
            self.remaining = 0
            self._done()
        self.buf += data
        self._parse()

    def _parse(self) -> None:
        while self.buf:
            if self.remaining < 0 and not self.chunked:
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(self.buf[:end]).lower()
                del self.buf[: end + 4]
                self.status = int(head[9:12])
                pos = head.find(b"\r\ncontent-length:")
                if pos >= 0:
                    stop = head.find(b"\r\n", pos + 2)
                    self.remaining = int(head[pos + 17 : stop if stop > 0 else len(head)].strip())
                elif b"transfer-encoding: chunked" in head:
                    self.chunked = True
                    continue
                else:
                    self.remaining = 0
            if self.chunked:
                if not self._parse_chunk():
                    return
                continue
            take = min(self.remaining, len(self.buf))
            if self.status >= 400 and not self.first_error_body:
                self.first_error_body = bytes(self.buf[: min(take, 400)])
            if self.keep_body:
                self.body += self.buf[:take]
            del self.buf[:take]
            self.remaining -= take
            if self.remaining == 0:
                self._done()
            else:
                return

    def _parse_chunk(self) -> bool:
        line_end = self.buf.find(b"\r\n")
        if line_end < 0:
            return False
        size = int(bytes(self.buf[:line_end]).split(b";")[0], 16)
        if len(self.buf) < line_end + 2 + size + 2:
            return False
        if size == 0:
            del self.buf[: line_end + 4]  # last chunk, no trailers expected
            self.chunked = False
            self._done()
            return True
        if self.keep_body:
            self.body += self.buf[line_end + 2 : line_end + 2 + size]
        del self.buf[: line_end + 2 + size + 2]
        return True

    def _done(self) -> None:
        self.remaining = -1
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(self.status)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection lost: {exc!r}"))
        if not self.closed.done():
            self.closed.set_result(None)

    async def roundtrip(self, request: bytes) -> int:
        self.body.clear()
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)  # type: ignore[union-attr]
        return await self.waiter


def build_request(host: str, port: int, path: str, body: bytes, headers: list[str], method: str = "POST") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}"]
    if method == "POST":
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    lines += headers
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body if method == "POST" else b"")


class Stats:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.ok = 0
        self.errors: Counter[str] = Counter()
        self.total = 0  # including warm-up, for CPU per request
        self.error_sample = ""
        self.polls = 0  # job mode

    def error(self, kind: str, sample: str = "") -> None:
        self.errors[kind] += 1
        if sample and not self.error_sample:
            self.error_sample = sample[:400]


async def connect(host: str, port: int) -> ClientProtocol:
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_connection(ClientProtocol, host, port)
    return proto  # type: ignore[return-value]


class JobFailed(Exception):
    pass


Exchange = Callable[[ClientProtocol], Awaitable[int]]  # one measured exchange on a connection; its final status


async def loop_worker(
    args: argparse.Namespace, exchange: Exchange, stats: Stats, t_measure: float, t_end: float, *, keep_body: bool
) -> None:
    proto: ClientProtocol | None = None
    while True:
        t0 = time.perf_counter()
        if t0 >= t_end:
            break
        try:
            if proto is None or proto.transport is None or proto.transport.is_closing():
                proto = await connect(args.host, args.port)
                proto.keep_body = keep_body
            t0 = time.perf_counter()
            status = await exchange(proto)
            t1 = time.perf_counter()
        except (OSError, ConnectionError, TimeoutError, JobFailed, ValueError, KeyError) as exc:
            stats.total += 1
            if t0 >= t_measure:
                stats.error(type(exc).__name__, str(exc))
            proto = None
            await asyncio.sleep(0.01)
            continue
        stats.total += 1
        if t0 < t_measure or t1 > t_end:
            continue  # warm-up, or crossing the end of the window
        if status == 200:
            stats.ok += 1
            if len(stats.latencies) < _LATENCY_SAMPLE_CAP:
                stats.latencies.append(t1 - t0)
        else:
            body = bytes(proto.body[:400]) if keep_body else proto.first_error_body
            stats.error(f"http_{status}", body.decode(errors="replace"))
    if proto is not None and proto.transport is not None:
        proto.transport.close()


async def run_loop(args: argparse.Namespace, request: bytes) -> dict:
    """The closed loop: each connection sends ``request`` again as soon as the last answer is in (``--mode job``:
    each iteration is one job, submitted and polled to its end)."""
    stats = Stats()
    jobs = args.mode == "job"

    async def exchange(proto: ClientProtocol) -> int:
        if jobs:
            return await one_job(args, proto, request, stats)
        return await asyncio.wait_for(proto.roundtrip(request), args.timeout_s)

    start = time.perf_counter()
    t_measure = start + args.warmup_s
    t_end = t_measure + args.duration_s
    await asyncio.gather(
        *(loop_worker(args, exchange, stats, t_measure, t_end, keep_body=jobs) for _ in range(args.concurrency))
    )
    window = t_end - t_measure
    return summary(stats, window) | {"window_s": window} | ({"polls": stats.polls} if jobs else {})


async def one_job(args: argparse.Namespace, proto: ClientProtocol, submit: bytes, stats: Stats) -> int:
    """Submit one job and poll it until it ends; the final status (200 for a succeeded job)."""
    status = await asyncio.wait_for(proto.roundtrip(submit), args.timeout_s)
    if status == 200:
        raise JobFailed("the submit was answered synchronously (200), not as a job (202)")
    if status != 202:
        return status
    job_id = json.loads(bytes(proto.body))["id"]
    poll = build_request(args.host, args.port, f"/v1/jobs/{job_id}", b"", args.poll_header, "GET")
    while True:
        status = await asyncio.wait_for(proto.roundtrip(poll), args.timeout_s)
        stats.polls += 1
        if status != 200:
            return status
        state = json.loads(bytes(proto.body))["status"]
        if state == "succeeded":
            return 200
        if state in ("failed", "cancelled"):
            raise JobFailed(f"job {job_id} {state}: {bytes(proto.body)[:300].decode(errors='replace')}")
        await asyncio.sleep(args.poll_interval_s)


async def once_worker(args: argparse.Namespace, request: bytes, stats: Stats, gate: asyncio.Semaphore) -> None:
    async with gate:  # only the connection setup is batched; the request is held open afterwards
        try:
            proto = await asyncio.wait_for(connect(args.host, args.port), args.timeout_s)
        except (OSError, TimeoutError) as exc:
            stats.error("connect_" + type(exc).__name__, str(exc))
            return
    t0 = time.perf_counter()
    try:
        status = await asyncio.wait_for(proto.roundtrip(request), args.timeout_s)
    except (OSError, ConnectionError, TimeoutError) as exc:
        stats.error(type(exc).__name__, str(exc))
        return
    finally:
        stats.total += 1
    if status == 200:
        stats.ok += 1
        stats.latencies.append(time.perf_counter() - t0)
    else:
        stats.error(f"http_{status}", proto.first_error_body.decode(errors="replace"))
    proto.transport.close()  # type: ignore[union-attr]


async def run_once(args: argparse.Namespace, request: bytes) -> dict:
    stats = Stats()
    gate = asyncio.Semaphore(args.connect_batch)
    start = time.perf_counter()
    await asyncio.gather(*(once_worker(args, request, stats, gate) for _ in range(args.concurrency)))
    return summary(stats, time.perf_counter() - start)


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    idx = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[idx]


def summary(stats: Stats, window: float) -> dict:
    lat = sorted(stats.latencies)
    ms = [round(x * 1000, 4) for x in lat]
    return {
        "ok": stats.ok,
        "errors": dict(stats.errors),
        "error_sample": stats.error_sample,
        "total_requests": stats.total,
        "rps": stats.ok / window if window > 0 else 0.0,
        "p50_ms": percentile(ms, 0.50),
        "p99_ms": percentile(ms, 0.99),
        "max_ms": ms[-1] if ms else None,
        "latencies_ms": ms,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", required=True)
    p.add_argument("--body", required=True, help="JSON request body")
    p.add_argument("--header", action="append", default=[], help="extra 'Name: value' header")
    p.add_argument("-c", "--concurrency", type=int, default=16)
    p.add_argument("--duration-s", type=float, default=5.0)
    p.add_argument("--warmup-s", type=float, default=1.0)
    p.add_argument("--timeout-s", type=float, default=60.0)
    p.add_argument("--mode", choices=("loop", "once", "job"), default="loop")
    p.add_argument("--connect-batch", type=int, default=256, help="once mode: connections opened at a time")
    p.add_argument("--poll-interval-s", type=float, default=0.001, help="job mode: wait between two polls")
    args = p.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    headers = list(args.header)
    if args.mode == "job":  # the poll carries the same credentials; the submit asks for an async answer
        args.poll_header = [h for h in headers if not h.lower().startswith(("content-", "prefer:"))]
        headers.append("Prefer: respond-async")
    request = build_request(args.host, args.port, args.path, args.body.encode(), headers)
    import uvloop

    runner = run_once if args.mode == "once" else run_loop
    result = uvloop.run(runner(args, request))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

"""The floor of imagegate's stack: a minimal relay on the same server and client (uvicorn with httptools and uvloop, a
raw ASGI app that forwards the body and returns the upstream's answer), beside the direct path and ``imagegate
serve``, interleaved, raw load generator. What the gateway costs beyond the minimal relay is its own work.

    .venv/bin/python bench/overhead/floor.py                                  # aiohttp client, the default scenarios
    .venv/bin/python bench/overhead/floor.py --client h1 --scenarios small:16,large:16

``--client``: ``aiohttp`` (one ``ClientSession``, no cookie jar) or ``h1`` (``imagegate.providers.h1.H1Pool``).
Prints one line per path and scenario: requests/s, p50, and the path's CPU milliseconds per request.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import Sample, run_loop  # noqa: E402
from procs import Proc, free_port, wait_port  # noqa: E402
from targets import Call, direct_call, gateway_call, start_imagegate, start_upstream  # noqa: E402


def serve_relay(port: int, upstream: str, client: str) -> None:
    """The minimal relay itself (run in its own process by ``main``)."""
    import aiohttp
    import uvicorn

    from imagegate.providers.h1 import H1Pool

    state: dict[str, Any] = {}
    headers = {"content-type": "application/json", "authorization": "Bearer x"}

    async def forward(path: str, body: bytes) -> list[bytes | bytearray]:
        if client == "h1":
            answer = await state["pool"].request(
                "POST", upstream + path, headers.items(), body, read_s=30, total_s=60, cap=1 << 26
            )
            return answer.chunks
        async with state["session"].post(upstream + path, data=body, headers=headers) as resp:
            chunks: list[bytes | bytearray] = []
            while chunk := await resp.content.readany():
                chunks.append(chunk)
            return chunks

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    state["session"] = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
                    state["pool"] = H1Pool()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await state["session"].close()
                    await state["pool"].close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        chunks = await forward(scope["path"], body)
        length = str(sum(len(c) for c in chunks)).encode()
        start = {"type": "http.response.start", "status": 200}
        await send(start | {"headers": [(b"content-type", b"application/json"), (b"content-length", length)]})
        for i, chunk in enumerate(chunks):
            await send({"type": "http.response.body", "body": chunk, "more_body": i < len(chunks) - 1})

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        proxy_headers=False,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--client", choices=("aiohttp", "h1"), default="aiohttp")
    p.add_argument("--scenarios", default="small:1,small:16,large:16", help="payload:concurrency,...")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--duration-s", type=float, default=3.0)
    p.add_argument("--serve", nargs=2, metavar=("PORT", "UPSTREAM"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        serve_relay(int(args.serve[0]), args.serve[1], args.client)
        return
    scenarios = [(payload, int(conc)) for payload, conc in (s.split(":") for s in args.scenarios.split(","))]
    with tempfile.TemporaryDirectory(prefix="imagegate-floor-") as tmp:
        workdir = Path(tmp)
        upstream, up_port = start_upstream(workdir)
        gateway, gw_port = start_imagegate(workdir, up_port)
        relay_port = free_port()
        argv = [sys.executable, __file__, "--client", args.client, "--serve", str(relay_port)]
        relay = Proc("relay", [*argv, f"http://127.0.0.1:{up_port}"], log_path=workdir / "relay.log")
        try:
            if not wait_port(relay_port, 30):
                raise RuntimeError(f"the minimal relay did not start: {relay.log_tail()}")
            for payload, conc in scenarios:
                direct = direct_call(up_port, "openai", payload)
                relayed = Call(relay_port, direct.path, direct.body, direct.headers)
                paths: dict[str, tuple[Proc, Call]] = {
                    "direct": (upstream, direct),
                    f"minimal relay ({args.client})": (relay, relayed),
                    "imagegate": (gateway, gateway_call(gw_port, "openai", payload, prefixed=True)),
                }
                samples = {name: Sample() for name in paths}
                for _ in range(args.rounds):
                    for name, (proc, call) in paths.items():
                        run_loop(
                            call,
                            conc,
                            duration_s=args.duration_s,
                            warmup_s=1.0,
                            timeout_s=30.0,
                            server=proc,
                            upstream=upstream,
                            sample=samples[name],
                        )
                for name, sample in samples.items():
                    got = sample.summary()
                    cpu_ms = 1000 * sample.server_cpu_s / max(1, sample.total_requests)
                    print(
                        f"{payload:5s} c={conc:<3d} {name:24s} {got['rps']:>9,.0f} req/s  p50 {got['p50_ms']:.3f} ms"
                        f"  CPU {cpu_ms:.3f} ms / req{'  errors ' + str(sample.errors) if sample.errors else ''}"
                    )
        finally:
            for proc in (relay, gateway, upstream):
                proc.stop()


if __name__ == "__main__":
    main()

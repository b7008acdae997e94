"""A streaming OpenAI-style upstream for the streaming benchmark: ``POST /v1/images/generations`` with
``stream: true`` answers ``partial_images`` partial-image events, then the completed event.

Every event is prebuilt (a noise PNG of ``--partial-bytes``, base64) so the upstream does no image work. Right after
it hands the first partial image to its socket it appends ``time.monotonic_ns()`` to ``--stamp-file``: the
benchmark measures from that instant to the moment its client holds the whole first event. A prompt containing
``HOLD`` waits ``--hold-s`` after the first partial (the open-stream memory test).

Run: ``python bench/streaming/upstream.py --port 9400 --partial-bytes 1500000 --stamp-file /tmp/stamps``
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import random
import time

import orjson
from aiohttp import web
from PIL import Image


def noise_png_b64(target_bytes: int, seed: int) -> str:
    side = max(4, round((target_bytes / 3) ** 0.5))  # noise does not compress: ~3 bytes a pixel
    raw = random.Random(seed).randbytes(side * side * 3)
    buf = io.BytesIO()
    Image.frombytes("RGB", (side, side), raw).save(buf, format="PNG", compress_level=0)
    return base64.b64encode(buf.getvalue()).decode()


def sse(kind: str, obj: dict) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(obj) + b"\n\n"


def build_events(partial_bytes: int) -> tuple[list[bytes], bytes]:
    common = {"size": "1024x1024", "quality": "medium", "background": "opaque", "output_format": "png",
              "created_at": int(time.time())}  # fmt: skip
    partials = [
        sse(
            "image_generation.partial_image",
            {
                "type": "image_generation.partial_image",
                "b64_json": noise_png_b64(partial_bytes, i),
                "partial_image_index": i,
                **common,
            },
        )  # fmt: skip
        for i in range(3)
    ]
    usage = {"input_tokens": 10, "input_tokens_details": {"image_tokens": 0, "text_tokens": 10}, "output_tokens": 1256,
             "total_tokens": 1266}  # fmt: skip
    done = sse(
        "image_generation.completed",
        {"type": "image_generation.completed", "b64_json": noise_png_b64(partial_bytes, 99), **common, "usage": usage},
    )
    return partials, done


def create_app(partial_bytes: int, stamp_file: str, interval_s: float, hold_s: float) -> web.Application:
    partials, done = build_events(partial_bytes)

    async def generations(request: web.Request) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        count = int(body.get("partial_images") or 0)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        try:
            for i in range(count):
                if i:
                    await asyncio.sleep(interval_s)
                await resp.write(partials[i])
                if i == 0:
                    stamp = time.monotonic_ns()
                    with open(stamp_file, "a", encoding="ascii") as fh:
                        fh.write(f"{stamp}\n")
                    if "HOLD" in str(body.get("prompt")):
                        await asyncio.sleep(hold_s)
            await resp.write(done)
            await resp.write_eof()
        except (ConnectionError, RuntimeError):
            pass  # the client left (the memory test closes its streams)
        return resp

    app = web.Application(client_max_size=1 << 20)
    app.router.add_post("/v1/images/generations", generations)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--partial-bytes", type=int, default=20_000)
    parser.add_argument("--stamp-file", required=True)
    parser.add_argument("--interval-s", type=float, default=0.01)
    parser.add_argument("--hold-s", type=float, default=120.0)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    app = create_app(args.partial_bytes, args.stamp_file, args.interval_s, args.hold_s)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=lambda *_: None)


if __name__ == "__main__":
    main()

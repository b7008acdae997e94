"""A fixed-response fake upstream, fast enough not to be the bottleneck of the overhead benchmark.

One process, uvloop, a raw ``asyncio.Protocol`` and prebuilt response bytes: no framework, no JSON work per
request. It answers both protocols on one port:

- OpenAI-compatible ``POST /v1/images/generations`` -> ``{"created":..,"data":[{"b64_json":..}],"usage":..}``
- Gemini ``POST /v1beta/models/{model}:generateContent`` -> candidates/inlineData with usageMetadata

The image is a real PNG of ~2 KB, or of ~1.5 MB when the request body contains ``BENCH_LARGE`` (the prompt
carries the marker through any gateway, so one upstream serves both payloads and targets can be interleaved).
``--delay-s`` holds every answer that long (the hold test). Run: ``python upstream.py --port 9000``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import random
import signal
import time

LARGE_MARKER = b"BENCH_LARGE"
SMALL_TARGET = 2 * 1024
LARGE_TARGET = 1536 * 1024


def noise_png(side: int, seed: int) -> bytes:
    """A real PNG of random RGB noise (compresses poorly, so its size follows the pixel count)."""
    from PIL import Image

    rng = random.Random(seed)
    img = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def png_near(target: int, seed: int = 7) -> bytes:
    """The noise PNG whose size is closest to ``target`` bytes (searching the side length)."""
    side = max(4, int((target / 3) ** 0.5))
    best = noise_png(side, seed)
    while len(best) > target and side > 4:
        side -= 1
        best = noise_png(side, seed)
    return best


def openai_body(png: bytes) -> bytes:
    return json.dumps(
        {
            "created": int(time.time()),
            "data": [{"b64_json": base64.b64encode(png).decode()}],
            "background": "opaque",
            "output_format": "png",
            "quality": "medium",
            "size": "1024x1024",
            "usage": {
                "input_tokens": 12,
                "input_tokens_details": {"image_tokens": 0, "text_tokens": 12},
                "output_tokens": 1056,
                "total_tokens": 1068,
            },
        },
        separators=(",", ":"),
    ).encode()


def gemini_body(png: bytes) -> bytes:
    return json.dumps(
        {
            "candidates": [
                {
                    "content": {
                        "parts": [{"inlineData": {"mimeType": "image/png", "data": base64.b64encode(png).decode()}}],
                        "role": "model",
                    },
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": {
                "promptTokenCount": 12,
                "candidatesTokenCount": 1120,
                "totalTokenCount": 1132,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 12}],
                "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1120}],
            },
            "modelVersion": "gemini-3-pro-image-preview",
            "responseId": "bench",
        },
        separators=(",", ":"),
    ).encode()


def http_response(body: bytes, status: str = "200 OK") -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


class Responses:
    """Every answer prebuilt, keyed by (protocol, large)."""

    def __init__(self) -> None:
        small, large = png_near(SMALL_TARGET), png_near(LARGE_TARGET)
        self.sizes = {"small": len(small), "large": len(large)}
        self.table = {
            ("openai", False): http_response(openai_body(small)),
            ("openai", True): http_response(openai_body(large)),
            ("gemini", False): http_response(gemini_body(small)),
            ("gemini", True): http_response(gemini_body(large)),
        }
        self.not_found = http_response(b'{"error":{"message":"not found","code":404}}', "404 Not Found")


class UpstreamProtocol(asyncio.Protocol):
    """HTTP/1.1 keep-alive, Content-Length request bodies only (what the clients under test send)."""

    __slots__ = ("responses", "delay_s", "transport", "buf", "need", "head_end", "proto")

    def __init__(self, responses: Responses, delay_s: float) -> None:
        self.responses = responses
        self.delay_s = delay_s
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.need = -1  # total bytes of the current request once its head is parsed
        self.head_end = 0
        self.proto = "openai"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            if self.need < 0:
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(self.buf[:end]).lower()
                length = 0
                pos = head.find(b"\r\ncontent-length:")
                if pos >= 0:
                    stop = head.find(b"\r\n", pos + 2)
                    length = int(head[pos + 17 : stop if stop > 0 else len(head)].strip())
                line_end = head.find(b"\r\n")
                request_line = head[: line_end if line_end > 0 else len(head)]
                if b"/images/generations" in request_line:
                    self.proto = "openai"
                elif b":generatecontent" in request_line:
                    self.proto = "gemini"
                else:
                    self.proto = "none"
                self.head_end = end + 4
                self.need = self.head_end + length
            if len(self.buf) < self.need:
                return
            body = self.buf[self.head_end : self.need]
            del self.buf[: self.need]
            self.need = -1
            if self.proto == "none":
                answer = self.responses.not_found
            else:
                answer = self.responses.table[(self.proto, LARGE_MARKER in body)]
            if self.delay_s > 0:
                asyncio.get_running_loop().call_later(self.delay_s, self._send, answer)
            else:
                self.transport.write(answer)  # type: ignore[union-attr]

    def _send(self, answer: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(answer)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(host: str, port: int, delay_s: float) -> None:
    responses = Responses()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: UpstreamProtocol(responses, delay_s), host, port, backlog=16384, reuse_address=True
    )
    print(json.dumps({"ready": True, "port": port, "png_bytes": responses.sizes}), flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay-s", type=float, default=0.0, help="hold every answer this long")
    args = parser.parse_args()
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    import uvloop

    uvloop.run(serve(args.host, args.port, args.delay_s))


if __name__ == "__main__":
    main()

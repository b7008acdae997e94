"""The fake's state and the wire helpers every handler shares (problem+json, ids, timestamps, auth)."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from imagegate.testing.fakes.common import FakeState


@dataclass
class Run:
    """One prediction and its simulated generation."""

    pred: dict[str, Any]
    done: asyncio.Event = field(default_factory=asyncio.Event)
    input_kinds: list[str] = field(default_factory=list)  # "data" | "file" | "url", per image_input item
    match_ratio: str = "1:1"  # nearest supported ratio of the first input image
    task: asyncio.Task | None = None
    timer: asyncio.TimerHandle | None = None  # the Cancel-After deadline


@dataclass
class ReplicateFakeState(FakeState):
    """The fake's world. ``hold`` (an unset Event) keeps every generation from finishing until it is set."""

    api_token: str = "r8_fake_token_for_tests"
    processing_with_output_rate: float = 0.0  # P(blocking answer says "processing" with the output already set)
    hold: asyncio.Event | None = None
    runs: dict[str, Run] = field(default_factory=dict)
    files: dict[str, tuple[bytes, dict[str, Any]]] = field(default_factory=dict)  # id -> (bytes, File object)
    outputs: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # file name -> (bytes, mime)
    canceled: list[str] = field(default_factory=list)  # ids that received POST .../cancel
    bodies: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (model, input) of valid catalog-model runs
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    def requests(self, method: str, prefix: str = "") -> list[dict]:
        """The requests seen with this method whose path starts with ``prefix``."""
        return [s for s in self.seen if s["method"] == method and s["path"].startswith(prefix)]

    async def settle(self) -> None:
        """Wait until every running simulated generation has ended."""
        tasks = [r.task for r in self.runs.values() if r.task is not None and not r.task.done()]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


STATE = web.AppKey("state", ReplicateFakeState)


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")


def new_id() -> str:
    """An id shaped like Replicate's (26 lower-case base32 characters)."""
    return base64.b32encode(uuid.uuid4().bytes).decode().lower().rstrip("=")


def base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def problem(status: int, title: str, detail: str, **extra: Any) -> web.Response:
    body = {"title": title, "detail": detail, "status": status, **extra}
    headers = {"Retry-After": str(extra["retry_after"])} if "retry_after" in extra else None
    return web.Response(
        body=orjson.dumps(body), status=status, content_type="application/problem+json", headers=headers
    )


def not_found() -> web.Response:
    return problem(404, "Not found", "The requested resource could not be found")


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")

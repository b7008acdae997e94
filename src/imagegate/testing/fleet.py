"""A fleet of fake providers (Gemini API, Vertex AI, Replicate, fal.ai, OpenAI) on loopback ports.

Used by the end-to-end tests, ``imagegate demo`` and the routing benchmark: ``Fleet.env()`` gives the exact
environment a gateway needs to route to every fake (keys, base URLs, a service-account file for Vertex).
``ThreadedFleet`` runs the fleet on its own event loop in a background thread, for synchronous callers.

Gemini and Vertex are two separate fake processes-worth of state (two apps on two ports), so each can
have its own fault profile, as the real providers do.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from imagegate.testing.fakes import fal as fal_fake
from imagegate.testing.fakes import gemini as google_fake
from imagegate.testing.fakes import openai as openai_fake
from imagegate.testing.fakes import replicate as replicate_fake
from imagegate.testing.fakes.common import FakeState, RunningFake
from imagegate.testing.faults import FaultInjector, FaultProfile

PROVIDERS = ("gemini", "vertex", "replicate", "fal", "openai")


@dataclass
class Fleet:
    """Fakes for ``providers``, each with an optional fault profile. Start with ``await fleet.start()``."""

    workdir: Path
    providers: tuple[str, ...] = PROVIDERS
    profiles: dict[str, FaultProfile] = field(default_factory=dict)
    states: dict[str, FakeState] = field(default_factory=dict)
    running: dict[str, RunningFake] = field(default_factory=dict)
    credentials_file: Path | None = None

    async def start(self) -> Fleet:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for name in self.providers:
            state, app = self._build(name)
            state.injector = FaultInjector(self.profiles.get(name) or FaultProfile())
            self.states[name] = state
            self.running[name] = await RunningFake(app).start()
        if "vertex" in self.running:
            self._write_service_account()
        return self

    def _build(self, name: str) -> tuple[Any, web.Application]:
        if name in ("gemini", "vertex"):
            google = google_fake.GoogleFakeState()
            return google, google_fake.create_app(google)
        if name == "replicate":
            replicate = replicate_fake.ReplicateFakeState()
            return replicate, replicate_fake.create_app(replicate)
        if name == "fal":
            fal = fal_fake.FalFakeState()
            return fal, fal_fake.create_app(fal)
        if name == "openai":
            openai = openai_fake.OpenAIFakeState()
            return openai, openai_fake.create_app(openai)
        raise ValueError(f"unknown provider {name!r}")

    def _write_service_account(self) -> None:
        url = self.running["vertex"].url
        info = google_fake.new_service_account(url + "/token")
        state = self.states["vertex"]
        assert isinstance(state, google_fake.GoogleFakeState)
        state.service_accounts[info["client_email"]] = google_fake.public_key_pem(info["private_key"])
        self.credentials_file = self.workdir / "vertex-service-account.json"
        self.credentials_file.write_text(json.dumps(info))

    def url(self, name: str) -> str:
        return self.running[name].url

    def env(self) -> dict[str, str]:
        """Environment variables that point a gateway at every fake of the fleet."""
        env: dict[str, str] = {}
        for name in self.running:
            state = self.states[name]
            if name == "gemini":
                env["GEMINI_API_KEY"] = state.api_key  # type: ignore[attr-defined]
                env["IMAGEGATE_GEMINI_BASE_URL"] = self.url(name)
            elif name == "vertex":
                env["GOOGLE_APPLICATION_CREDENTIALS"] = str(self.credentials_file)
                env["IMAGEGATE_VERTEX_BASE_URL"] = self.url(name)
            elif name == "replicate":
                env["REPLICATE_API_TOKEN"] = state.api_token  # type: ignore[attr-defined]
                env["IMAGEGATE_REPLICATE_BASE_URL"] = self.url(name)
            elif name == "fal":
                env["FAL_KEY"] = state.key  # type: ignore[attr-defined]
                env["IMAGEGATE_FAL_BASE_URL"] = self.url(name)
            elif name == "openai":
                env["OPENAI_API_KEY"] = state.api_key  # type: ignore[attr-defined]
                env["IMAGEGATE_OPENAI_BASE_URL"] = self.url(name) + "/v1"
        return env

    def generation_calls(self, name: str) -> int:
        """How many requests the fake saw (all endpoints)."""
        return len(self.states[name].seen)

    async def stop(self) -> None:
        for fake in self.running.values():
            await fake.stop()
        self.running.clear()


class ThreadedFleet:
    """Run a ``Fleet`` on a private event loop in a daemon thread."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="fake-fleet", daemon=True)

    def start(self) -> Fleet:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.fleet.start(), self.loop).result(timeout=60)
        return self.fleet

    def call(self, fn, *args):  # type: ignore[no-untyped-def]
        """Run ``fn(*args)`` on the fleet's loop (fault reconfiguration must happen there)."""
        fut = asyncio.run_coroutine_threadsafe(_call(fn, *args), self.loop)
        return fut.result(timeout=30)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.fleet.stop(), self.loop).result(timeout=60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)


async def _call(fn, *args):  # type: ignore[no-untyped-def]
    return fn(*args)

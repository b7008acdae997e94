"""Host the simulated fleet in its own process (imagegate's venv), so the load and the gateway run beside it.

``--kind fleet``: the real providers' fakes (Gemini API, Vertex AI, fal.ai, Replicate), for imagegate.
``--kind openai``: one OpenAI-compatible fake per provider profile, for LiteLLM's Router (it speaks OpenAI).

Both get the same scenario profiles (``imagegate.testing.profiles``). The first stdout line is JSON: ``env``
(the gateway's environment) or ``urls`` + ``api_key``. Then it reads commands on stdin, one per line:
``reset`` restarts every fault injector (fresh RNG, outage clock at zero; answer ``ok``), ``counts`` answers
JSON {provider: {outcome: decisions}} ("ok" or a fault kind) since the last reset. EOF stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from pathlib import Path

from imagegate.testing.fakes import openai as openai_fake
from imagegate.testing.fakes.common import RunningFake
from imagegate.testing.faults import Decision, FaultInjector
from imagegate.testing.fleet import Fleet
from imagegate.testing.profiles import SEED_FIGURES, scenario_profiles

PROVIDERS = tuple(SEED_FIGURES)


async def serve(args: argparse.Namespace) -> None:
    profiles = scenario_profiles(args.scenario, args.time_scale, args.seed, args.run_s)
    injectors: dict[str, FaultInjector] = {}
    stoppers = []
    if args.kind == "fleet":
        fleet = await Fleet(workdir=Path(args.workdir), providers=PROVIDERS, profiles=profiles).start()
        injectors = {name: state.injector for name, state in fleet.states.items()}
        stoppers.append(fleet.stop)
        hello: dict[str, object] = {"env": fleet.env()}
    else:
        urls = {}
        for name in PROVIDERS:
            state = openai_fake.OpenAIFakeState(injector=FaultInjector(profiles[name]), api_key="sk-bench")
            running = await RunningFake(openai_fake.create_app(state)).start()
            injectors[name] = state.injector
            urls[name] = running.url + "/v1"
            stoppers.append(running.stop)
        hello = {"urls": urls, "api_key": "sk-bench"}
    tallies = {name: _tally(inj) for name, inj in injectors.items()}
    print(json.dumps(hello), flush=True)
    loop = asyncio.get_running_loop()
    try:
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            cmd = line.strip()
            if cmd == "reset":
                for name, inj in injectors.items():
                    inj.reconfigure(dataclasses.replace(profiles[name]))
                    tallies[name].clear()
                print("ok", flush=True)
            elif cmd == "counts":
                print(json.dumps(tallies), flush=True)
    finally:
        for stop in stoppers:
            await stop()


def _tally(injector: FaultInjector) -> dict[str, int]:
    """Count the injector's decisions by outcome ("ok" or the fault kind) from now on."""
    counts: dict[str, int] = {}
    decide = injector.decide

    def counted() -> Decision:
        d = decide()
        key = d.fault or "ok"
        counts[key] = counts.get(key, 0) + 1
        return d

    injector.decide = counted  # type: ignore[method-assign]
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kind", choices=("fleet", "openai"), required=True)
    parser.add_argument("--scenario", default="seed")
    parser.add_argument("--time-scale", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--run-s", type=float, default=375.0, help="expected run length (real seconds)")
    parser.add_argument("--workdir", default="/tmp/imagegate-bench-fleet")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()

"""``python -m imagegate.testing.fakes.gemini --port 9101 --faults "p50=19.6,p95=35.6,unavailable=0.07,time_scale=0.05"
--api-key KEY [--service-account key.json] [--project P]``. Prints the URL once it listens."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json

from imagegate.testing.fakes.common import RunningFake, profile_from_cli
from imagegate.testing.fakes.gemini import GoogleFakeState, create_app, public_key_pem
from imagegate.testing.faults import FaultInjector


async def serve(host: str, port: int, state: GoogleFakeState) -> None:
    fake = await RunningFake(create_app(state), host=host, port=port).start()
    print(f"fake Gemini API / Vertex AI listening on {fake.url}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake Gemini API and Vertex AI (image models) with an OAuth endpoint")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9101)
    parser.add_argument("--faults", default="", help='e.g. "p50=19.6,p95=35.6,unavailable=0.07,time_scale=0.05"')
    parser.add_argument("--api-key", default=GoogleFakeState.api_key, help="the Gemini API key the fake accepts")
    parser.add_argument(
        "--service-account",
        action="append",
        default=[],
        metavar="KEY_JSON",
        help="a service-account key file whose tokens the fake grants (repeatable)",
    )
    parser.add_argument("--project", default=None, help="the only Vertex project allowed (default: any)")
    parser.add_argument("--token-lifetime", type=int, default=3600, help="expires_in of issued tokens (seconds)")
    parser.add_argument("--block-reason", default="IMAGE_SAFETY")
    parser.add_argument("--block-via-prompt-feedback", action="store_true")
    args = parser.parse_args(argv)
    accounts: dict[str, bytes] = {}
    for path in args.service_account:
        with open(path, encoding="utf-8") as fh:
            info = json.load(fh)
        accounts[info["client_email"]] = public_key_pem(info["private_key"])
    state = GoogleFakeState(
        injector=FaultInjector(profile_from_cli(args.faults)),
        api_key=args.api_key,
        service_accounts=accounts,
        project=args.project,
        token_lifetime_s=args.token_lifetime,
        block_reason=args.block_reason,
        block_via_prompt_feedback=args.block_via_prompt_feedback,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, state))


if __name__ == "__main__":
    main()

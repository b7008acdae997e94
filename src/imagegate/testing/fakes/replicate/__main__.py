"""``python -m imagegate.testing.fakes.replicate --port 9103 --faults "p50=30,p95=60,time_scale=0.05"``."""

from __future__ import annotations

import argparse

from aiohttp import web

from imagegate.testing.fakes.common import profile_from_cli
from imagegate.testing.fakes.replicate import ReplicateFakeState, create_app
from imagegate.testing.faults import FaultInjector


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake Replicate API (google/nano-banana-pro)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9103)
    parser.add_argument("--faults", default="", help='e.g. "p50=30,p95=60,time_scale=0.05,rate_limited=0.05"')
    parser.add_argument("--api-token", default="r8_fake_token_for_tests")
    parser.add_argument(
        "--processing-with-output",
        type=float,
        default=0.2,
        help="probability that a finished blocking answer still says 'processing'",
    )
    args = parser.parse_args(argv)
    state = ReplicateFakeState(
        injector=FaultInjector(profile_from_cli(args.faults)),
        api_token=args.api_token,
        processing_with_output_rate=args.processing_with_output,
    )
    web.run_app(create_app(state), host=args.host, port=args.port, access_log=None)


if __name__ == "__main__":
    main()

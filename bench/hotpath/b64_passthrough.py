"""CPU cost of handling a provider answer with one 1.5 MB image: parse + re-serialise vs lift + splice.

    .venv/bin/python bench/hotpath/b64_passthrough.py [--rounds 200]

Prints µs per call (time.process_time) for: orjson.loads of the whole answer, orjson.dumps of the parsed answer,
``loads_lifting`` (providers/b64lift.py) and ``encode_answer`` (api/encode.py) of the lifted answer.
"""

from __future__ import annotations

import argparse
import base64
import os
import time
from collections.abc import Callable

import orjson

from imagegate.api.encode import encode_answer
from imagegate.providers.b64lift import loads_lifting, resolve


def per_call_us(fn: Callable[[], object], rounds: int) -> float:
    fn()
    start = time.process_time()
    for _ in range(rounds):
        fn()
    return (time.process_time() - start) / rounds * 1e6


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=200)
    p.add_argument("--image-bytes", type=int, default=1_500_000)
    args = p.parse_args()
    b64 = base64.b64encode(os.urandom(args.image_bytes)).decode()
    body = orjson.dumps({"created": 1, "data": [{"b64_json": b64}], "usage": {"input_tokens": 5}})
    parsed = orjson.loads(body)

    def lifted_answer() -> dict:
        data, lifted = loads_lifting(body, b"b64_json")
        return {"created": 1, "data": [{"b64_json": resolve(data["data"][0]["b64_json"], lifted)}]}

    answer = lifted_answer()
    rows = {
        "orjson.loads (whole answer)": per_call_us(lambda: orjson.loads(body), args.rounds),
        "orjson.dumps (parsed answer)": per_call_us(lambda: orjson.dumps(parsed), args.rounds),
        "loads_lifting": per_call_us(lambda: loads_lifting(body, b"b64_json"), args.rounds),
        "encode_answer (lifted)": per_call_us(
            lambda: encode_answer(dict(answer, data=[dict(answer["data"][0])])), args.rounds
        ),
    }
    print(f"answer of {len(body):,} bytes, {args.rounds} rounds")
    for name, us in rows.items():
        print(f"{name:<32} {us:9.1f} us")


if __name__ == "__main__":
    main()

"""CPU cost of mapping a request's size onto every offer of a model, as ``Gateway.plan`` does per request.

    .venv/bin/python bench/hotpath/size_mapping.py [-n 20000] [--model gemini-3-pro-image-preview]

``map_size`` computes the mapping; ``SizeMap`` (what the gateway uses) remembers it per offer and request fields.
Sizes rotate over the common ones, as real traffic varies.
"""

from __future__ import annotations

import argparse
import time

from imagegate.catalog.loader import load_catalog
from imagegate.core.types import ImageRequest
from imagegate.media.sizes import SizeMap, map_size

SIZES = ("1024x1024", "1536x1024", "1024x1536", "auto", "16:9", "1792x1024", None, "2048x2048")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("-n", type=int, default=20_000)
    p.add_argument("--model", default="gemini-3-pro-image-preview")
    args = p.parse_args()
    model, _ = load_catalog().resolve(args.model)
    caps = [o.capabilities for o in model.offers]
    requests = [ImageRequest(operation="generate", model=args.model, prompt="p", size=s) for s in SIZES]
    for name, fn in (("map_size", map_size), ("SizeMap", SizeMap())):
        start = time.process_time()
        for i in range(args.n):
            r = requests[i % len(requests)]
            for c in caps:
                fn(r, c)
        per = (time.process_time() - start) / args.n * 1e6
        print(f"{name:9s} {len(caps)} offers of {model.id}: {per:6.1f} us per request ({args.n} requests)")


if __name__ == "__main__":
    main()

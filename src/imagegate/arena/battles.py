"""Making battles: which competition, which two models, and both images generated through the gateway.

Pair choice ``uncertain`` (the default) picks the pair whose next vote is least predictable and least measured:
``p (1 - p) / (1 + n)``, with ``p`` the current board's win probability between the two and ``n`` the battles the
pair already has in the competition (voted or waiting in the pool). Close, rarely compared pairs come first, so
intervals narrow with fewer votes than uniform sampling (the Chatbot Arena paper, section 5). ``uniform`` picks any
servable pair.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import random
import secrets
from dataclasses import dataclass
from itertools import combinations

from imagegate.api.files import extension
from imagegate.arena.boards import Boards
from imagegate.arena.ratings import BASE, INIT_RATING, SCALE
from imagegate.arena.schema import PACKAGED_DIR, Competition
from imagegate.core.errors import GatewayError, InvalidRequest
from imagegate.core.slices import contiguous
from imagegate.core.types import ImageRequest, InputImage
from imagegate.media.formats import MIME_TYPES, sniff_format
from imagegate.media.inspect import inspect_image
from imagegate.pipeline import Gateway
from imagegate.store.blobs import BlobStore

ARENA_KEY = "arena"  # the request log's key id for arena generations: the arena's spend


class ArenaSpendCapReached(GatewayError):
    status = 429
    code = "ARENA_SPEND_CAP"


def load_input(name: str, max_pixels: int) -> InputImage:
    """A packaged input image (``arena/data/inputs``) or a ``data:`` URL stored by the admin API."""
    if name.startswith("data:"):
        try:
            data = base64.b64decode(name.split(",", 1)[1], validate=True)
        except (IndexError, binascii.Error):
            raise InvalidRequest("input_images: not a base64 data URL", param="input_images") from None
        return inspect_image(data, max_pixels=max_pixels, filename="input", field="input_images")
    path = PACKAGED_DIR / "inputs" / name
    return inspect_image(path.read_bytes(), max_pixels=max_pixels, filename=name, field="input_images")


@dataclass(frozen=True, slots=True)
class Generated:
    image: str  # "<blob token>.<ext>"
    cost_micros: int


class BattleMaker:
    def __init__(self, gateway: Gateway, blobs: BlobStore, *, size: str, image_ttl_s: int, max_pixels: int) -> None:
        self.gateway = gateway
        self.blobs = blobs
        self.size = size
        self.image_ttl_s = image_ttl_s
        self.max_pixels = max_pixels
        self._inputs: dict[str, list[InputImage]] = {}
        self.rng = random.Random(secrets.randbits(64))

    def request(self, comp: Competition, model: str) -> ImageRequest:
        images = self._inputs.get(comp.slug)
        if images is None:
            images = self._inputs[comp.slug] = [load_input(n, self.max_pixels) for n in comp.input_images]
        return ImageRequest(
            operation="edit" if comp.task == "image-editing" else "generate",
            model=model,
            prompt=comp.prompt,
            size=self.size,
            response_format="b64_json",
            images=list(images),
            request_id="arena_" + secrets.token_hex(10),
            key_id=ARENA_KEY,
            user=ARENA_KEY,
        )

    def servable(self, comp: Competition) -> list[str]:
        """Catalog models with the competition's task that an active offer can serve as asked."""
        out = []
        for model in self.gateway.catalog.models():
            if comp.task not in model.tasks or model.status == "disabled":
                continue
            try:
                self.gateway.plan(self.request(comp, model.id))
            except GatewayError:
                continue
            out.append(model.id)
        return out

    def choose_pair(
        self, comp: Competition, models: list[str], boards: Boards, pending: dict, sampling: str
    ) -> tuple[str, str]:
        """Two distinct models, in random left/right order."""
        pairs = list(combinations(sorted(models), 2))
        if not pairs:
            raise InvalidRequest(f"Fewer than two models on this gateway can serve '{comp.slug}'.", param="competition")
        if sampling == "uniform":
            pair = self.rng.choice(pairs)
        else:
            board = boards.get(("competition", comp.slug)) or boards.get(("task", comp.task))
            rating = {r["model"]: r["rating"] for r in board.rows} if board else {}
            state = boards.state(("competition", comp.slug))
            self.rng.shuffle(pairs)

            def score(pair: tuple[str, str]) -> float:
                a, b = pair
                ra, rb = rating.get(a, INIT_RATING), rating.get(b, INIT_RATING)
                p = 1 / (1 + BASE ** ((rb - ra) / SCALE))
                n = (state.pair_count(a, b) if state else 0) + pending.get((comp.slug, a, b), 0)
                return p * (1 - p) / (1 + n)

            pair = max(pairs, key=score)
        a, b = pair
        return (a, b) if self.rng.random() < 0.5 else (b, a)

    async def generate(self, comp: Competition, model_a: str, model_b: str) -> tuple[Generated, Generated]:
        """Both images at once through the gateway (routing, failover, pricing, the request log)."""
        results = await asyncio.gather(*(self._one(comp, m) for m in (model_a, model_b)), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                raise r
        first, second = results
        assert isinstance(first, Generated) and isinstance(second, Generated)
        return first, second

    async def _one(self, comp: Competition, model: str) -> Generated:
        answer = await self.gateway.run(self.request(comp, model))
        item = answer.body["data"][0]
        data = base64.b64decode(contiguous(item["b64_json"]))
        mime = _sniff(data)
        token = await self.blobs.put(data, mime, self.image_ttl_s)
        return Generated(f"{token}.{extension(mime)}", answer.cost_micros)


def _sniff(data: bytes) -> str:
    fmt = sniff_format(data)
    return MIME_TYPES.get(fmt, "image/png") if fmt else "image/png"

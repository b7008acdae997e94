"""Backoff with jitter, the one implementation: the router's retries, Replicate's and fal's status polls."""

from __future__ import annotations

import random


def exponential(step: int, base: float, cap: float, factor: float = 2.0) -> float:
    """``base * factor ** step``, at most ``cap``."""
    return min(cap, base * factor**step)


def jittered(delay: float, jitter: float, rng: random.Random) -> float:
    """``delay`` moved by up to +-``jitter`` of itself (0.2: +-20 %), never negative."""
    if delay <= 0 or jitter <= 0:
        return max(0.0, delay)
    return max(0.0, delay * (1 + rng.uniform(-jitter, jitter)))


def full_jitter(delay: float, rng: random.Random) -> float:
    """Uniform in [0, ``delay``]: AWS's "full jitter", for retries that should not move in step."""
    return rng.uniform(0, delay)

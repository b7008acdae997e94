"""Counts the cyclic garbage collector's work in a served gateway: on ``SIGUSR1`` it writes, to stderr, the
collections per generation since the last signal, the objects they collected and the seconds they took.

    PYTHONPATH=bench/overhead/gc_probe OPENAI_API_KEY=x IMAGEGATE_OPENAI_BASE_URL=http://127.0.0.1:UP/v1 \\
        IMAGEGATE_PLACEHOLDER=off .venv/bin/imagegate serve &        # in front of bench/overhead/upstream.py
    kill -USR1 $!                                                    # after a warm-up: resets the counts
    .venv/bin/python bench/overhead/loadgen.py ... -c 16 --duration-s 6
    kill -USR1 $!                                                    # prints "GCPROBE {...}" to the server's stderr

Python imports ``sitecustomize`` at start from the path, so the gateway runs unchanged. Used for issue 18's
reference-cycle finding (docs/benchmarks.md, fourth session).
"""

from __future__ import annotations

import gc
import signal
import sys
import time
from typing import Any

_counts: dict[str, list[Any]] = {}
_started: dict[int, float] = {}


def _reset() -> None:
    _counts.update(collections=[0, 0, 0], collected=[0, 0, 0], seconds=[0.0, 0.0, 0.0])


def _on_gc(phase: str, info: dict[str, int]) -> None:
    generation = info["generation"]
    if phase == "start":
        _started[generation] = time.perf_counter()
        return
    _counts["collections"][generation] += 1
    _counts["collected"][generation] += info["collected"]
    _counts["seconds"][generation] += time.perf_counter() - _started.pop(generation, time.perf_counter())


def _dump(*_: object) -> None:
    sys.stderr.write(f"GCPROBE {_counts}\n")
    sys.stderr.flush()
    _reset()


_reset()
gc.callbacks.append(_on_gc)
signal.signal(signal.SIGUSR1, _dump)

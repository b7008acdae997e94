"""Process-level tuning for a served gateway: the allocator and the cyclic garbage collector.

Both are measured in docs/benchmarks.md ("Hot path: allocator and garbage collector"):

- **Allocator.** A 1.5 MB image arrives as 2 MB of base64 in 256 KiB socket reads, and is copied and joined on
  its way through. glibc serves every allocation above its mmap threshold (128 KiB at first, raised on the fly
  only as far as the largest block freed so far) with a fresh ``mmap`` and gives it back with ``munmap``, and it
  trims the heap's free top back to the kernel past 2 x that threshold. Each request then page-faults its
  megabytes in again: ~700 minor faults and most of the gateway's CPU per 1.5 MB image were the kernel's. Fixing
  the mmap threshold at 32 MiB (glibc's ceiling) and keeping up to 256 MiB of free heap lets those blocks be
  reused from the heap. The price is resident memory that stays at its high-water mark instead of shrinking.
- **Garbage collector.** The objects built at start (catalog, SQLAlchemy, pydantic, uvicorn) are long-lived;
  ``gc.freeze`` moves them out of the collector's sight, so the collections that the per-request garbage triggers
  no longer traverse them, and a larger first-generation threshold makes those collections rarer. Reference
  counting still frees almost everything at once; cycles are still collected.

``tune_process`` runs in each served worker after its services have started (``imagegate serve``); tests and
embedded uses of ``create_app`` leave the interpreter as it is. ``IMAGEGATE_RUNTIME_TUNING=off`` turns it off.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import sys

log = logging.getLogger(__name__)

# glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024  # glibc refuses more than HEAP_MAX_SIZE / 2 (32 MiB on 64-bit)
TRIM_THRESHOLD_BYTES = 256 * 1024 * 1024
GC_GEN0_THRESHOLD = 20_000  # CPython's default is 700


def tune_allocator() -> bool:
    """Keep large buffers in the heap for reuse (glibc only). Returns whether the allocator took the settings."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok_mmap = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
    ok_trim = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
    return ok_mmap and ok_trim


def tune_gc() -> None:
    """Freeze what start-up built and collect the young generation less often."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)


def tune_process() -> None:
    allocator = tune_allocator()
    tune_gc()
    log.info(
        "runtime tuning: allocator %s, gc frozen %d objects, gen0 threshold %d",
        "tuned" if allocator else "unchanged (not glibc)",
        gc.get_freeze_count(),
        GC_GEN0_THRESHOLD,
    )

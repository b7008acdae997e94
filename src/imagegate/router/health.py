"""Health of one (model, provider): a bucketed sliding window, a latency histogram, the breaker, a pause.

Everything lives in one flat mapping of fields, the same in memory and in a Redis hash:

    cb              current bucket number (floor(wall / bucket_s)); older buckets are pruned on rollover
    <b>:s <b>:f     successes / failures in bucket b
    <b>:ls <b>:fl   sum of success / failure latencies (ms) in bucket b
    <b>:h<i>        successes whose latency fell in histogram bin i (log-spaced, see ``latency_bin``)
    st oa cf        breaker: 0 closed / 1 open, opened at (wall s), consecutive failures
    pr pa           half-open probes granted and when the last was granted
    pu              paused until (wall s), from a provider's Retry-After

The mutating functions here are the Python twins of the Lua scripts in ``redis_state.py``; keep them in step.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field

HIST_BASE_MS = 50.0
HIST_RATIO = 1.3
HIST_MAX_BIN = 60


@dataclass(frozen=True, slots=True)
class StateParams:
    """The knobs the state needs to apply updates atomically (derived from ``RouterConfig``)."""

    bucket_s: float = 30.0
    buckets: int = 10
    breaker_enabled: bool = True
    consecutive_failures: int = 5
    failure_rate: float = 0.5
    min_requests: int = 20
    cooldown_s: float = 30.0
    half_open_probes: int = 1
    budget_bucket_s: float = 5.0
    budget_buckets: int = 12
    ttl_s: int = 600


def latency_bin(latency_ms: float) -> int:
    if latency_ms < HIST_BASE_MS * HIST_RATIO:
        return 0
    return min(HIST_MAX_BIN, int(math.log(latency_ms / HIST_BASE_MS) / math.log(HIST_RATIO)))


def _bin_edges(i: int) -> tuple[float, float]:
    lo = 0.0 if i == 0 else HIST_BASE_MS * HIST_RATIO**i
    return lo, HIST_BASE_MS * HIST_RATIO ** (i + 1)


@dataclass(slots=True)
class OfferHealth:
    """A read-only summary of one (model, provider) at one instant."""

    successes: int = 0
    failures: int = 0
    success_latency_ms: float = 0.0  # sum
    failure_latency_ms: float = 0.0  # sum
    histogram: dict[int, int] = field(default_factory=dict)
    breaker: str = "closed"  # closed | open | half_open
    opened_at: float | None = None
    consecutive_failures: int = 0
    paused_until: float = 0.0

    @property
    def total(self) -> int:
        return self.successes + self.failures

    def quantile_s(self, q: float) -> float | None:
        """Approximate success-latency quantile in seconds (geometric bins, linear inside a bin)."""
        total = sum(self.histogram.values())
        if total == 0:
            return None
        target = q * total
        cum = 0
        for i in sorted(self.histogram):
            c = self.histogram[i]
            if cum + c >= target:
                lo, hi = _bin_edges(i)
                return (lo + (hi - lo) * ((target - cum) / c)) / 1000.0
            cum += c
        return _bin_edges(max(self.histogram))[1] / 1000.0

    @property
    def mean_success_s(self) -> float | None:
        return self.success_latency_ms / self.successes / 1000.0 if self.successes else None

    @property
    def mean_failure_s(self) -> float | None:
        return self.failure_latency_ms / self.failures / 1000.0 if self.failures else None

    def paused(self, now_wall: float) -> bool:
        return self.paused_until > now_wall


def _num(fields: Mapping[str, str | float | int], key: str) -> float:
    v = fields.get(key)
    return float(v) if v is not None else 0.0


@dataclass(slots=True)
class WindowTally:
    """The window sums of one offer for bucket ``cur`` (buckets ``cur - buckets + 1`` .. ``cur + 1``).

    ``summarise`` builds one from the fields; the memory state keeps one per offer and adds each outcome to it
    (``tally_add``), so a snapshot does not re-parse every ``"<bucket>:<name>"`` field of the window. Latency sums
    are kept per bucket and added up in field order, so the sums are bit for bit those of a fresh parse. The
    histogram is copied on write: snapshots share it, and an update replaces it instead of changing it.
    """

    cur: int
    params: StateParams
    successes: int = 0
    failures: int = 0
    success_ms: dict[int, float] = field(default_factory=dict)  # bucket -> sum of success latencies
    failure_ms: dict[int, float] = field(default_factory=dict)
    histogram: dict[int, int] = field(default_factory=dict)
    sums: tuple[float, float] | None = None  # (success, failure) latency sums, until the next update


def tally(
    fields: Mapping[str, str | float | int], cur: int, p: StateParams, names: dict[str, FieldName] | None = None
) -> WindowTally:
    """Parse the window's bucket fields. ``names`` remembers parsed field names between calls (a shared store's
    rows repeat the same names for a whole bucket)."""
    oldest = cur - p.buckets + 1
    t = WindowTally(cur, p)
    for key, raw in fields.items():
        parsed = names.get(key, _UNPARSED) if names is not None else _UNPARSED
        if parsed is _UNPARSED:
            parsed = parse_name(key)
            if names is not None:
                names[key] = parsed
        if parsed is None:
            continue
        bucket, kind, i = parsed
        if bucket < oldest or bucket > cur + 1:  # +1 tolerates a little clock skew between replicas
            continue
        if kind == "s":
            t.successes += int(float(raw))
        elif kind == "h":
            t.histogram[i] = t.histogram.get(i, 0) + int(float(raw))
        elif kind == "ls":
            t.success_ms[bucket] = t.success_ms.get(bucket, 0.0) + float(raw)
        elif kind == "f":
            t.failures += int(float(raw))
        elif kind == "fl":
            t.failure_ms[bucket] = t.failure_ms.get(bucket, 0.0) + float(raw)
    return t


FieldName = tuple[int, str, int] | None  # (bucket, s | f | ls | fl | h | "" (other), histogram bin), None: no bucket
_UNPARSED: FieldName = (0, "?", 0)


def parse_name(key: str) -> FieldName:
    """``"123:h7"`` -> ``(123, "h", 7)``; ``"123:ls"`` -> ``(123, "ls", 0)``; ``"cf"`` -> None."""
    b, sep, name = key.partition(":")
    if not sep:
        return None
    try:
        bucket = int(b)
    except ValueError:
        return None
    if name in ("s", "f", "ls", "fl"):
        return bucket, name, 0
    if name.startswith("h"):
        return bucket, "h", int(name[1:])
    return bucket, "", 0


def tally_add(t: WindowTally, ok: bool, latency_ms: float) -> None:
    """Count one outcome recorded in bucket ``t.cur`` (as ``record_outcome`` just did in the fields)."""
    b = t.cur
    t.sums = None
    if ok:
        t.successes += 1
        t.success_ms[b] = t.success_ms.get(b, 0) + latency_ms
        i = latency_bin(latency_ms)
        t.histogram = histogram = dict(t.histogram)  # snapshots may hold the old one
        histogram[i] = histogram.get(i, 0) + 1
    else:
        t.failures += 1
        t.failure_ms[b] = t.failure_ms.get(b, 0) + latency_ms


def health_of(
    t: WindowTally, fields: Mapping[str, str | float | int], now_wall: float, p: StateParams, *, share: bool = False
) -> OfferHealth:
    """A fresh ``OfferHealth`` from a tally and the breaker and pause fields. With ``share`` its histogram is the
    tally's own (for a tally that copies on write), else a copy."""
    sums = t.sums
    if sums is None:
        success_ms = failure_ms = 0.0
        for v in t.success_ms.values():
            success_ms += v
        for v in t.failure_ms.values():
            failure_ms += v
        sums = t.sums = (success_ms, failure_ms)
    histogram = t.histogram if share else dict(t.histogram)
    h = OfferHealth(t.successes, t.failures, sums[0], sums[1], histogram)
    get = fields.get
    if (cf := get("cf")) is not None:
        h.consecutive_failures = int(float(cf))
    if (pu := get("pu")) is not None:
        h.paused_until = float(pu)
    if (st := get("st")) is not None and float(st) == 1:
        h.opened_at = _num(fields, "oa")
        h.breaker = "half_open" if now_wall >= h.opened_at + p.cooldown_s else "open"
    return h


def current_bucket(now_wall: float, p: StateParams) -> int:
    return math.floor(now_wall / p.bucket_s)


def summarise(
    fields: Mapping[str, str | float | int], now_wall: float, p: StateParams, names: dict[str, FieldName] | None = None
) -> OfferHealth:
    """The health of one offer from its fields (``names``: see ``tally``)."""
    return health_of(tally(fields, current_bucket(now_wall, p), p, names), fields, now_wall, p, share=True)


# --------------------------------------------------------------------------- mutations (twins of the Lua)


def _rollover(f: MutableMapping[str, float], cur: int, buckets: int) -> None:
    if cur > f.get("cb", -1):
        for key in [k for k in f if ":" in k]:
            b = key.partition(":")[0]
            if b.lstrip("-").isdigit() and int(b) <= cur - buckets:
                del f[key]
        f["cb"] = cur


def _add(f: MutableMapping[str, float], key: str, v: float) -> float:
    f[key] = f.get(key, 0) + v
    return f[key]


def record_outcome(f: MutableMapping[str, float], now_wall: float, ok: bool, latency_ms: float, p: StateParams) -> None:
    cur = math.floor(now_wall / p.bucket_s)
    _rollover(f, cur, p.buckets)
    pre = f"{cur}:"
    if ok:
        _add(f, pre + "s", 1)
        _add(f, pre + "ls", latency_ms)
        _add(f, f"{pre}h{latency_bin(latency_ms)}", 1)
        f["cf"] = 0
        f["st"] = 0
        f["pr"] = 0
        return
    _add(f, pre + "f", 1)
    _add(f, pre + "fl", latency_ms)
    cf = _add(f, "cf", 1)
    if not p.breaker_enabled:
        return
    if f.get("st", 0) == 1:
        if now_wall >= f.get("oa", 0) + p.cooldown_s:  # a half-open probe failed: open again
            f["oa"] = now_wall
            f["pr"] = 0
        return
    should_open = cf >= p.consecutive_failures
    if not should_open:
        s = sum(f.get(f"{b}:s", 0) for b in range(cur - p.buckets + 1, cur + 1))
        n = s + sum(f.get(f"{b}:f", 0) for b in range(cur - p.buckets + 1, cur + 1))
        should_open = n >= p.min_requests and (n - s) / n >= p.failure_rate
    if should_open:
        f["st"] = 1
        f["oa"] = now_wall
        f["pr"] = 0


def acquire_probe(f: MutableMapping[str, float], now_wall: float, p: StateParams) -> bool:
    if f.get("st", 0) != 1:
        return True
    if now_wall < f.get("oa", 0) + p.cooldown_s:
        return False
    if f.get("pr", 0) < p.half_open_probes:
        f["pr"] = f.get("pr", 0) + 1
        f["pa"] = now_wall
        return True
    if now_wall >= f.get("pa", 0) + p.cooldown_s:  # the earlier probes never reported: grant afresh
        f["pr"] = 1
        f["pa"] = now_wall
        return True
    return False


def pause(f: MutableMapping[str, float], until_wall: float) -> None:
    f["pu"] = max(f.get("pu", 0), until_wall)


def budget_take(
    f: MutableMapping[str, float], now_wall: float, kind: str, ratio: float, min_per_s: float, p: StateParams
) -> bool:
    """``kind`` "r" counts a request (always granted); "t" (retry) or "g" (hedge) take one token if allowed:
    used + 1 <= ratio * requests + min_per_s * window, all over the budget window."""
    cur = math.floor(now_wall / p.budget_bucket_s)
    _rollover(f, cur, p.budget_buckets)
    if kind != "r":
        lo = cur - p.budget_buckets + 1
        reqs = sum(f.get(f"{b}:r", 0) for b in range(lo, cur + 1))
        used = sum(f.get(f"{b}:{kind}", 0) for b in range(lo, cur + 1))
        if used + 1 > ratio * reqs + min_per_s * p.budget_bucket_s * p.budget_buckets:
            return False
    _add(f, f"{cur}:{kind}", 1)
    return True

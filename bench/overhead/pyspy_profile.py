"""py-spy profile of a gateway under load, summarised as its hottest frames (self and inclusive)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from measure import loadgen_argv, parse_loadgen
from targets import Call

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]*)(?::(?P<line>\d+))?\)$")


def py_spy() -> str | None:
    return shutil.which("py-spy") or (
        str(Path(sys.executable).parent / "py-spy") if (Path(sys.executable).parent / "py-spy").exists() else None
    )


def _short(frame: str) -> str:
    """``func (path/to/site-packages/pkg/mod.py:12)`` -> ``pkg/mod.py:func``."""
    m = _FRAME.match(frame)
    if not m:
        return frame
    path = m.group("file")
    for cut in ("site-packages/", "/src/", "/lib/python3."):
        if cut in path:
            path = path.split(cut, 1)[1]
            if cut == "/lib/python3.":
                path = "stdlib/" + path.split("/", 1)[-1]
            break
    return f"{path}:{m.group('func')}"


def summarise(collapsed: str, top: int = 15) -> dict:
    """Self and inclusive sample shares per frame from py-spy's raw (collapsed stack) output."""
    self_counts: Counter[str] = Counter()
    incl_counts: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_short(f) for f in stack.split(";") if f]
        if frames and frames[0].startswith("process "):
            frames = frames[1:]
        if not frames:
            continue
        total += n
        self_counts[frames[-1]] += n
        for f in set(frames):
            incl_counts[f] += n

    def share(c: Counter[str], k: int) -> list[dict]:
        return [{"frame": f, "pct": round(100 * n / total, 1)} for f, n in c.most_common(k)]

    return {"samples": total, "self": share(self_counts, top), "inclusive": share(incl_counts, 4 * top)}


def profile_under_load(pid: int, call: Call, concurrency: int, seconds: float, out_file: Path) -> dict:
    """Record ``seconds`` of ``pid`` while the load generator drives ``call``; return the summary."""
    exe = py_spy()
    if exe is None:
        return {"skipped": "py-spy is not installed (pip install py-spy into the venv)"}
    spy = subprocess.Popen(
        [exe, "record", "--nonblocking", "-d", str(int(seconds)), "-r", "100", "-p", str(pid), "-f", "raw"]
        + ["-o", str(out_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lg = subprocess.run(
        loadgen_argv(call, concurrency, duration_s=seconds + 1, warmup_s=0.5, timeout_s=60),
        capture_output=True,
        text=True,
        timeout=seconds + 120,
    )
    _, err = spy.communicate(timeout=seconds + 60)
    if not out_file.exists():
        return {"skipped": f"py-spy produced nothing: {err[-500:]}"}
    result = summarise(out_file.read_text())
    load = parse_loadgen(lg.stdout, lg.stderr, lg.returncode)
    result["rps_while_profiled"] = round(load["rps"], 1)
    return result

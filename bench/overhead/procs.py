"""Child processes of the benchmark and what /proc says about them (CPU seconds, resident memory)."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    found: list[int] = []
    task_dir = Path(f"/proc/{pid}/task")
    with contextlib.suppress(OSError):
        for task in task_dir.iterdir():
            with contextlib.suppress(OSError):
                found += [int(x) for x in (task / "children").read_text().split()]
    return found


def _status_kb(pid: int, field: str) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _stat_fields(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (field 3 of stat is index 0 here)."""
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2 :].split()
    return []


def _cpu_ticks(pid: int) -> int:
    fields = _stat_fields(pid)
    return int(fields[11]) + int(fields[12]) if fields else 0  # utime + stime (fields 14 and 15 of stat)


def _minor_faults(pid: int) -> int:
    fields = _stat_fields(pid)
    return int(fields[7]) if fields else 0  # minflt (field 10 of stat)


class Proc:
    """A started child process (and its descendants, e.g. uvicorn workers), measured as one."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        out = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115 - closed in stop()
        self._log = out if log_path else None
        self.popen = subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def pids(self) -> list[int]:
        todo, seen = [self.pid], []
        while todo:
            pid = todo.pop()
            seen.append(pid)
            todo += _children(pid)
        return seen

    def cpu_seconds(self) -> float:
        return sum(_cpu_ticks(p) for p in self.pids()) / _TICKS

    def minor_faults(self) -> int:
        return sum(_minor_faults(p) for p in self.pids())

    def rss_bytes(self) -> int:
        return sum(_status_kb(p, "VmRSS") for p in self.pids()) * 1024

    def peak_rss_bytes(self) -> int:
        """Sum of each process's high-water mark (VmHWM)."""
        return sum(_status_kb(p, "VmHWM") for p in self.pids()) * 1024

    def open_fds(self) -> int:
        total = 0
        for p in self.pids():
            with contextlib.suppress(OSError):
                total += len(os.listdir(f"/proc/{p}/fd"))
        return total

    def log_tail(self, chars: int = 3000) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        return self.log_path.read_bytes()[-chars:].decode(errors="replace")

    def stop(self) -> None:
        if self.alive():
            # Our own process group (start_new_session), so workers go with it.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.popen.wait(timeout=5)
        if self._log:
            self._log.close()


def http(method: str, url: str, body: dict | None = None, timeout: float = 30.0) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
        return 0, repr(exc).encode()


def wait_ready(proc: Proc, url: str, timeout_s: float) -> bool:
    """Poll ``GET url`` until it answers 200, the process dies or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not proc.alive():
            return False
        status, _ = http("GET", url, timeout=2.0)
        if status == 200:
            return True
        time.sleep(0.3)
    return False


def wait_port(port: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
        time.sleep(0.1)
    return False


def machine() -> dict:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = _status_kb_meminfo()
    import resource

    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "nofile_hard_limit": resource.getrlimit(resource.RLIMIT_NOFILE)[1],
        "loadavg_at_start": os.getloadavg(),
    }


def _status_kb_meminfo() -> int:
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1])
    return 0

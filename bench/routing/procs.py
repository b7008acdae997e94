"""Child processes of the routing benchmark: the fake fleet host, the gateway, LiteLLM's driver."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PY = sys.executable  # imagegate's venv


def clean_env() -> dict[str, str]:
    """This environment without any gateway or provider settings (only what we pass counts)."""
    drop = ("GEMINI_API_KEY", "GOOGLE_APPLICATION_CREDENTIALS", "REPLICATE_API_TOKEN", "FAL_KEY", "OPENAI_API_KEY")
    return {k: v for k, v in os.environ.items() if not k.startswith("IMAGEGATE_") and k not in drop}


class FakesHost:
    """``fakes_host.py`` as a child: the hello line, then ``reset`` / ``counts`` over stdin."""

    def __init__(self, kind: str, scenario: str, time_scale: float, seed: int, run_s: float, workdir: Path) -> None:
        argv = [PY, str(HERE / "fakes_host.py"), "--kind", kind, "--scenario", scenario, "--time-scale",
                str(time_scale), "--seed", str(seed), "--run-s", str(run_s), "--workdir", str(workdir)]  # fmt: skip
        self.log = open(workdir.parent / f"fakes-{kind}.log", "wb")  # noqa: SIM115 - closed in stop()
        workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line:
            raise RuntimeError(f"fake fleet did not start (see {self.log.name})")
        self.hello: dict[str, Any] = json.loads(line)

    def _ask(self, cmd: str) -> str:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def reset(self) -> None:
        if self._ask("reset") != "ok":
            raise RuntimeError("fake fleet did not reset")

    def counts(self) -> dict[str, dict[str, int]]:
        return json.loads(self._ask("counts"))

    def stop(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class LiteLLMDriver:
    """``litellm_driver.py`` under LiteLLM's venv: started, ``ready``, then ``go`` and wait for the results."""

    def __init__(self, python: str, cfg: dict[str, Any], workdir: Path, time_scale: float) -> None:
        cfg_path = workdir / "litellm.json"
        cfg_path.write_text(json.dumps(cfg))
        env = {
            **clean_env(),
            "INITIAL_RETRY_DELAY": str(0.5 * time_scale),
            "MAX_RETRY_DELAY": str(8.0 * time_scale),
            "JITTER": str(0.75 * time_scale),
            "LITELLM_LOG": "ERROR",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        }
        self.log = open(workdir / "litellm.log", "wb")  # noqa: SIM115 - closed in wait()
        argv = [python, str(HERE / "litellm_driver.py"), str(cfg_path)]
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                     text=True)  # fmt: skip
        assert self.proc.stdout
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"LiteLLM driver exited (see {workdir / 'litellm.log'})")
            if line.strip() == "ready":
                break

    def go_and_wait(self, timeout: float) -> None:
        assert self.proc.stdin
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        self.proc.wait(timeout=timeout)
        self.log.close()
        if self.proc.returncode != 0:
            raise RuntimeError(f"LiteLLM driver failed ({self.proc.returncode}); see {self.log.name}")

"""Drive LiteLLM's ``Router`` in-process against the OpenAI-compatible fakes (run with LiteLLM's own venv).

    /work/litellm-venv/bin/python bench/routing/litellm_driver.py CONFIG.json

CONFIG: {"urls": {provider: base_url}, "api_key", "strategy", "requests", "concurrency", "time_scale",
"attempt_timeout_s", "request_timeout_s", "num_retries", "out"} (seconds already scaled). LiteLLM's retry
back-off constants are read from the environment at import (INITIAL_RETRY_DELAY, MAX_RETRY_DELAY, JITTER): the
orchestrator scales them. Prints ``ready``, waits for a line on stdin (the fakes are reset meanwhile), runs,
writes one JSON record per logical request to ``out``.

Each provider is one deployment of the model group; a fallback group holds the same four deployments, so a
request gets up to ``num_retries + 1`` tries in the group and as many again in the fallback group. Every
deployment call (success or failure, retries and fallbacks included) is counted with a ``CustomLogger``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import litellm
from litellm.integrations.custom_logger import CustomLogger

MODEL = "gemini-3-pro-image-preview"
FALLBACK = MODEL + "-fallback"


class CallLog(CustomLogger):
    """Every deployment call, keyed by the request tag we pass in ``metadata``."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: dict[str, list[dict[str, Any]]] = {}

    def _add(self, kwargs: dict[str, Any], ok: bool, start: Any, end: Any) -> None:
        params = kwargs.get("litellm_params") or {}
        meta = params.get("metadata") or {}
        tag = str(meta.get("bench_tag") or "?")
        info = params.get("model_info") or {}
        provider = str(info.get("provider_name") or info.get("id") or "?").split(":")[0]
        try:
            latency = (end - start).total_seconds()
        except Exception:  # noqa: BLE001 - timestamps are optional in callbacks
            latency = None
        self.calls.setdefault(tag, []).append({"provider": provider, "ok": ok, "latency_s": latency})

    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):  # type: ignore[no-untyped-def]
        self._add(kwargs, True, start_time, end_time)

    async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time):  # type: ignore[no-untyped-def]
        self._add(kwargs, False, start_time, end_time)


def model_list(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for group in (MODEL, FALLBACK):
        for provider, url in cfg["urls"].items():
            out.append({
                "model_name": group,
                "litellm_params": {"model": "openai/gpt-image-1", "api_base": url, "api_key": cfg["api_key"],
                                   "timeout": cfg["attempt_timeout_s"], "max_retries": 0},
                "model_info": {"id": f"{provider}:{group}", "provider_name": provider},
            })  # fmt: skip
    return out


async def one(router: litellm.Router, tag: str, cfg: dict[str, Any], log: CallLog) -> dict[str, Any]:
    start = time.perf_counter()
    rec: dict[str, Any] = {"tag": tag}
    try:
        resp = await asyncio.wait_for(
            router.aimage_generation(model=MODEL, prompt=f"a red fox in snow {tag}", size="1024x1024",
                                     metadata={"bench_tag": tag}),
            timeout=cfg["request_timeout_s"],
        )  # fmt: skip
        hidden = getattr(resp, "_hidden_params", {}) or {}
        rec.update(ok=bool(resp.data), provider=str(hidden.get("model_id") or "?").split(":")[0])
    except Exception as exc:  # noqa: BLE001 - any failure is a failed request here
        rec.update(ok=False, error=type(exc).__name__)
    rec["latency_s"] = time.perf_counter() - start
    await asyncio.sleep(0)  # let the success/failure callbacks of this request run
    return rec


async def run(cfg: dict[str, Any]) -> None:
    log = CallLog()
    litellm.callbacks = [log]
    litellm.suppress_debug_info = True
    router = litellm.Router(
        model_list=model_list(cfg),
        routing_strategy=cfg["strategy"],
        num_retries=cfg["num_retries"],
        fallbacks=[{MODEL: [FALLBACK]}],
        cooldown_time=cfg["cooldown_s"],
        timeout=cfg["attempt_timeout_s"],
    )
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(cfg["requests"]):
        queue.put_nowait(i)
    records: list[dict[str, Any]] = []

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            records.append(await one(router, f"r{i}", cfg, log))

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(cfg["concurrency"])))
    wall = time.perf_counter() - t0
    await asyncio.sleep(0.5)  # callbacks are scheduled as tasks: let the last ones land
    for rec in records:
        rec["calls"] = log.calls.get(rec["tag"], [])
    with open(cfg["out"], "w", encoding="utf-8") as fh:
        json.dump({"wall_s": wall, "records": records}, fh)


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as fh:
        cfg = json.load(fh)
    asyncio.run(run(cfg))


if __name__ == "__main__":
    main()

"""The systems under test (fake upstream, imagegate, LiteLLM proxy): how to start them and what to send them."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from procs import Proc, free_port, http, wait_port, wait_ready

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PROMPT = "a lighthouse on a cliff at dawn, watercolour"
LARGE_MARKER = "BENCH_LARGE"  # the upstream answers with the 1.5 MB image when the prompt carries it
GEMINI_MODEL = "gemini-3-pro-image-preview"
_SECRET_VARS = (
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "OPENAI_API_KEY",
    "REPLICATE_API_TOKEN",
    "FAL_KEY",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "VERTEX_PROJECT",
)


@dataclass(frozen=True)
class Call:
    """One HTTP request the load generator repeats."""

    port: int
    path: str
    body: str
    headers: tuple[str, ...] = ()


def prompt_for(payload: str) -> str:
    return f"{PROMPT} {LARGE_MARKER}" if payload == "large" else PROMPT


def openai_images_body(model: str, payload: str) -> str:
    return json.dumps(
        {"model": model, "prompt": prompt_for(payload), "n": 1, "size": "1024x1024", "response_format": "b64_json"}
    )


def direct_call(upstream_port: int, protocol: str, payload: str) -> Call:
    if protocol == "openai":
        return Call(
            upstream_port,
            "/v1/images/generations",
            openai_images_body("gpt-image-1", payload),
            ("Authorization: Bearer x",),
        )
    body = json.dumps(
        {
            "contents": [{"role": "user", "parts": [{"text": prompt_for(payload)}]}],
            "generationConfig": {"responseModalities": ["IMAGE"], "imageConfig": {"aspectRatio": "1:1"}},
        }
    )
    return Call(upstream_port, f"/v1beta/models/{GEMINI_MODEL}:generateContent", body, ("x-goog-api-key: x",))


def gateway_call(port: int, protocol: str, payload: str, *, prefixed: bool) -> Call:
    """imagegate takes ``provider/model``; LiteLLM takes the ``model_name`` of its config."""
    if protocol == "openai":
        model = "openai/gpt-image-1" if prefixed else "gpt-image-1"
    else:
        model = f"gemini/{GEMINI_MODEL}" if prefixed else GEMINI_MODEL
    return Call(port, "/v1/images/generations", openai_images_body(model, payload), ("Authorization: Bearer x",))


def start_upstream(workdir: Path, *, delay_s: float = 0.0, name: str = "upstream") -> tuple[Proc, int]:
    port = free_port()
    argv = [sys.executable, str(HERE / "upstream.py"), "--port", str(port), "--delay-s", str(delay_s)]
    proc = Proc(name, argv, log_path=workdir / f"{name}.log")
    if not wait_port(port, 60):
        raise RuntimeError(f"the fake upstream did not start: {proc.log_tail()}")
    return proc, port


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in _SECRET_VARS and not k.startswith("IMAGEGATE_")}


def start_imagegate(
    workdir: Path,
    upstream_port: int,
    *,
    workers: int = 1,
    name: str = "imagegate",
    extra_env: dict[str, str] | None = None,
    server: str = "uvicorn",
) -> tuple[Proc, int]:
    """``imagegate serve`` (uvicorn); ``server="granian"`` runs the same app factory under granian instead
    (``pip install granian``), for comparison."""
    port = free_port()
    env = (
        _clean_env()
        | (extra_env or {})
        | {
            "OPENAI_API_KEY": "x",
            "IMAGEGATE_OPENAI_BASE_URL": f"http://127.0.0.1:{upstream_port}/v1",
            "GEMINI_API_KEY": "x",
            "IMAGEGATE_GEMINI_BASE_URL": f"http://127.0.0.1:{upstream_port}",
            "IMAGEGATE_PLACEHOLDER": "off",
        }
    )
    data_dir = workdir / f"{name}-data"
    if server == "granian":  # what `imagegate serve` passes its workers, by environment
        env |= {"IMAGEGATE_HOST": "127.0.0.1", "IMAGEGATE_PORT": str(port), "IMAGEGATE_DATA_DIR": str(data_dir)}
        argv = [
            str(Path(sys.executable).parent / "granian"),
            "--interface",
            "asgi",
            "--factory",
            "--loop",
            "uvloop",
            "--workers",
            str(workers),
            "--port",
            str(port),
            "--backpressure",
            "20000",
            "--no-ws",
            "imagegate.api.asgi:create_app_from_env",
        ]
    else:
        exe = Path(sys.executable).parent / "imagegate"
        argv = [str(exe), "serve", "--port", str(port), "--data-dir", str(data_dir), "--workers", str(workers)]
    proc = Proc(name, argv, env=env, log_path=workdir / f"{name}.log")
    if not wait_ready(proc, f"http://127.0.0.1:{port}/v1/models", 90):
        proc.stop()
        raise RuntimeError(f"imagegate did not start:\n{proc.log_tail()}")
    return proc, port


def litellm_config(upstream_port: int) -> str:
    return (
        "model_list:\n"
        "  - model_name: gpt-image-1\n"
        f'    litellm_params: {{model: openai/fake-image, api_base: "http://127.0.0.1:{upstream_port}/v1",'
        " api_key: fake}\n"
        f"  - model_name: {GEMINI_MODEL}\n"
        f'    litellm_params: {{model: gemini/{GEMINI_MODEL}, api_base: "http://127.0.0.1:{upstream_port}/v1beta",'
        " api_key: fake}\n"
        "litellm_settings: {drop_params: true}\n"
    )


def start_litellm(workdir: Path, venv: Path, upstream_port: int) -> tuple[Proc, int]:
    """LiteLLM proxy, one worker, its own defaults (including its access log, written to a file here)."""
    port = free_port()
    cfg = workdir / "litellm.yaml"
    cfg.write_text(litellm_config(upstream_port))
    env = _clean_env() | {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False"}
    argv = [str(venv / "bin" / "litellm"), "--config", str(cfg), "--port", str(port), "--num_workers", "1"]
    proc = Proc("litellm", argv, env=env, cwd=str(workdir), log_path=workdir / "litellm.log")
    if not wait_ready(proc, f"http://127.0.0.1:{port}/health/liveliness", 180):
        proc.stop()
        raise RuntimeError(f"LiteLLM did not start:\n{proc.log_tail()}")
    return proc, port


def check_call(call: Call, marker: str) -> str | None:
    """Send the call once; return None when it answers 200 with ``marker`` in the body, else why not."""
    headers = dict(h.split(": ", 1) for h in call.headers)
    import urllib.request

    req = urllib.request.Request(
        f"http://127.0.0.1:{call.port}{call.path}",
        data=call.body.encode(),
        method="POST",
        headers={"Content-Type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            status, body = resp.status, resp.read()
    except Exception as exc:  # noqa: BLE001 - any failure is reported as text
        body = exc.read() if hasattr(exc, "read") else repr(exc).encode()
        status = getattr(exc, "code", 0)
    if status == 200 and marker.encode() in body:
        return None
    return f"HTTP {status}: {body[:500].decode(errors='replace')}"


__all__ = [
    "Call",
    "check_call",
    "direct_call",
    "gateway_call",
    "http",
    "start_imagegate",
    "start_litellm",
    "start_upstream",
]

"""The systems under test (fake upstream, imagegate, nginx, the Portkey gateway, LiteLLM proxy): how to start them
and what to send them."""

from __future__ import annotations

import json
import os
import shutil
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


NGINX_CANDIDATES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")
PORTKEY_VERSION = "1.15.2"
PORTKEY_START = Path("node_modules") / "@portkey-ai" / "gateway" / "build" / "start-server.js"


def find_nginx() -> str | None:
    return shutil.which("nginx") or next((c for c in NGINX_CANDIDATES if Path(c).exists()), None)


def nginx_config(workdir: Path, port: int, upstream_port: int, *, buffering: bool = False) -> str:
    """A pure relay: one worker, a keep-alive pool to the upstream, nothing written to disk per request.

    Buffering: ``proxy_buffering off`` with a 1 MiB ``proxy_buffer_size`` (nginx forwards each read as it comes,
    through that one buffer, and never touches a temp file) was the faster at 1.5 MB on the 2-core machine than
    ``proxy_buffering on`` with 64 x 64 KiB buffers (a 2.1 MB answer fits in memory; ``proxy_max_temp_file_size 0``
    forbids temp files anyway): 16 concurrent, 4 interleaved rounds of 3 s, raw generator, 2026-12-01 23:23 UTC on a
    busy machine: 773 vs 479 req/s and 0.71 vs 1.72 CPU ms per request (64 concurrent: 623 vs 349 req/s); with a
    64 KiB or 256 KiB buffer, off gave 665 and 761 req/s. ``buffering=True`` writes the other configuration
    (``run.py --nginx-buffered`` measures both side by side: ``results/nginx-buffering-20261202T0117.md``).
    """
    tmp = workdir / "nginx-tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers would run as nobody and not reach the workdir
    temp_paths = "\n".join(
        f"    {kind}_temp_path {tmp / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{user}daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 20000;
pid {workdir / "nginx.pid"};
error_log {workdir / "nginx-error.log"} warn;
events {{
    worker_connections 8192;
}}
http {{
    access_log off;
{temp_paths}
    upstream fake_upstream {{
        server 127.0.0.1:{upstream_port};
        keepalive 64;
        keepalive_requests 1000000;
    }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        keepalive_requests 1000000;
        keepalive_timeout 300s;
        client_max_body_size 64m;
        client_body_buffer_size 1m;
        location / {{
            proxy_pass http://fake_upstream;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering {"on" if buffering else "off"};
            proxy_buffer_size {"64k" if buffering else "1m"};
            proxy_buffers 64 64k;
            proxy_busy_buffers_size 1m;
            proxy_max_temp_file_size 0;
            proxy_read_timeout 300s;
        }}
    }}
}}
"""


def start_nginx(workdir: Path, upstream_port: int, nginx: str, *, buffering: bool = False) -> tuple[Proc, int]:
    """Debian's nginx (master + one worker, measured together), with a config written into the workdir."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "nginx.conf"
    conf.write_text(nginx_config(workdir, port, upstream_port, buffering=buffering))
    argv = [nginx, "-c", str(conf), "-p", str(workdir), "-e", str(workdir / "nginx-error.log")]
    proc = Proc("nginx", argv, log_path=workdir / "nginx.log")
    if not wait_port(port, 30) or not proc.alive():
        proc.stop()
        err = workdir / "nginx-error.log"
        raise RuntimeError(f"nginx did not start:\n{proc.log_tail()}{err.read_text()[-2000:] if err.exists() else ''}")
    return proc, port


def portkey_script(portkey_dir: Path) -> Path:
    return portkey_dir / PORTKEY_START


def portkey_install_hint(portkey_dir: Path) -> str:
    return (
        f"no Portkey gateway at {portkey_script(portkey_dir)}: install it with `mkdir -p {portkey_dir} && "
        f"npm install --prefix {portkey_dir} @portkey-ai/gateway@{PORTKEY_VERSION}` (Node.js 18 or newer; "
        "Debian: `apt-get install -y nodejs npm`)"
    )


def start_portkey(workdir: Path, portkey_dir: Path) -> tuple[Proc, int]:
    """The Portkey gateway (Node, one process), headless (no UI, no log stream)."""
    port = free_port()
    node = shutil.which("node") or "node"
    argv = [node, str(portkey_script(portkey_dir)), f"--port={port}", "--headless"]
    env = _clean_env()
    proc = Proc("portkey", argv, env=env, cwd=str(workdir), log_path=workdir / "portkey.log")
    if not wait_ready(proc, f"http://127.0.0.1:{port}/", 60):
        proc.stop()
        raise RuntimeError(f"the Portkey gateway did not start:\n{proc.log_tail()}")
    return proc, port


def relay_call(port: int, direct: Call) -> Call:
    """nginx forwards the direct request as it is (same path, body and headers), to its own port."""
    return Call(port, direct.path, direct.body, direct.headers)


def portkey_call(port: int, upstream_port: int, payload: str) -> Call:
    """The direct OpenAI body; Portkey is told the provider and the upstream's base URL by header."""
    return Call(
        port,
        "/v1/images/generations",
        openai_images_body("gpt-image-1", payload),
        (
            "Authorization: Bearer x",
            "x-portkey-provider: openai",
            f"x-portkey-custom-host: http://127.0.0.1:{upstream_port}/v1",
        ),
    )


SURFACE_MARKERS = {"stream": "image_generation.completed", "chat": "data:image/png;base64,", "jobs": "b64_json"}


def surface_call(port: int, surface: str) -> Call:
    """imagegate's other surfaces, 2 KB image, OpenAI upstream:

    - ``stream``: ``images/generations`` with ``stream: true, partial_images: 0`` (an SSE answer: one
      ``image_generation.completed`` event; with no partial images asked the upstream call is not streamed);
    - ``chat``: ``chat/completions`` with ``modalities: ["image", "text"]`` and one user message;
    - ``jobs``: the plain images body, sent by loadgen.py's job mode with ``Prefer: respond-async`` and polled.
    """
    auth = ("Authorization: Bearer x",)
    if surface == "stream":
        body = json.loads(openai_images_body("openai/gpt-image-1", "small"))
        body.pop("response_format")
        body |= {"stream": True, "partial_images": 0}
        return Call(port, "/v1/images/generations", json.dumps(body), auth)
    if surface == "chat":
        body = {
            "model": "openai/gpt-image-1",
            "modalities": ["image", "text"],
            "messages": [{"role": "user", "content": PROMPT}],
        }
        return Call(port, "/v1/chat/completions", json.dumps(body), auth)
    if surface == "jobs":
        return Call(port, "/v1/images/generations", openai_images_body("openai/gpt-image-1", "small"), auth)
    raise ValueError(f"unknown surface {surface!r}")


def check_job(call: Call, timeout_s: float = 30.0) -> str | None:
    """Submit the call as an async job and poll it; None when it succeeds with the image, else why not."""
    import time
    import urllib.request

    headers = dict(h.split(": ", 1) for h in call.headers)
    req = urllib.request.Request(
        f"http://127.0.0.1:{call.port}{call.path}",
        data=call.body.encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Prefer": "respond-async", **headers},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            status, body = resp.status, resp.read()
        if status != 202:
            return f"the submit answered HTTP {status}, not 202: {body[:300].decode(errors='replace')}"
        job_id = json.loads(body)["id"]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            poll = urllib.request.Request(f"http://127.0.0.1:{call.port}/v1/jobs/{job_id}", headers=headers)
            with urllib.request.urlopen(poll, timeout=timeout_s) as resp:
                job = json.loads(resp.read())
            if job["status"] == "succeeded":
                return None if "b64_json" in json.dumps(job.get("result")) else f"no b64_json in {str(job)[:300]}"
            if job["status"] in ("failed", "cancelled"):
                return f"the job {job['status']}: {str(job)[:500]}"
            time.sleep(0.01)
        return f"the job did not end within {timeout_s} s"
    except Exception as exc:  # noqa: BLE001 - any failure is reported as text
        return repr(exc)[:500]


__all__ = [
    "SURFACE_MARKERS",
    "Call",
    "check_call",
    "check_job",
    "direct_call",
    "gateway_call",
    "http",
    "find_nginx",
    "portkey_call",
    "relay_call",
    "start_imagegate",
    "start_litellm",
    "start_nginx",
    "start_portkey",
    "start_upstream",
    "surface_call",
]

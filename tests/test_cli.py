"""The ``imagegate`` command line, run as a real process in offline (placeholder) mode."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("IMAGEGATE_")
        and k
        not in ("GEMINI_API_KEY", "GOOGLE_APPLICATION_CREDENTIALS", "REPLICATE_API_TOKEN", "FAL_KEY", "OPENAI_API_KEY")
    }
    return subprocess.run(
        [sys.executable, "-m", "imagegate", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_generate_writes_n_files_in_the_extension_format(tmp_path: Path) -> None:
    out = run(
        "generate",
        "a cat in a hat",
        "-o",
        "cat.webp",
        "--size",
        "512x512",
        "-n",
        "2",
        "--data-dir",
        "data",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    first, second = tmp_path / "cat.webp", tmp_path / "cat-2.webp"
    for path in (first, second):
        img = Image.open(path)
        assert img.format == "WEBP" and img.size == (512, 512)
    assert "provider=placeholder" in out.stderr


def test_edit_with_mask(tmp_path: Path) -> None:
    for name, colour in (("in.png", (200, 0, 0)), ("mask.png", (0, 0, 0))):
        buf = io.BytesIO()
        Image.new("RGB", (128, 128), colour).save(buf, format="PNG")
        (tmp_path / name).write_bytes(buf.getvalue())
    out = run(
        "edit",
        "in.png",
        "--prompt",
        "make it blue",
        "--mask",
        "mask.png",
        "-o",
        "out.jpg",
        "--data-dir",
        "data",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert Image.open(tmp_path / "out.jpg").format == "JPEG"


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    out = run("generate", "x", "-o", "x.png", "--model", "no-such-model", "--data-dir", "data", cwd=tmp_path)
    assert out.returncode == 1
    assert "MODEL_NOT_FOUND" in out.stderr and "Traceback" not in out.stderr
    (tmp_path / "notes.txt").write_text("not an image")
    out = run("edit", "notes.txt", "--prompt", "x", "-o", "y.png", "--data-dir", "data", cwd=tmp_path)
    assert out.returncode == 1 and "INVALID_REQUEST" in out.stderr


def test_models_lists_the_catalog(tmp_path: Path) -> None:
    out = run("models", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "gemini-3-pro-image-preview (aliases: gemini-3-pro-image, nano-banana-pro)" in out.stdout
    assert "gemini, vertex, replicate, fal" in out.stdout.replace("*", "")


def test_in_flight_advice_counts_two_descriptors_per_request() -> None:
    from imagegate.cli import in_flight_advice

    assert in_flight_advice(1_048_576, 1) is None
    assert in_flight_advice(20_400, 1) is None  # (20,400 - 200) / 2 = 10,100 requests
    text = in_flight_advice(20_000, 1)
    assert text is not None and "9,900 requests" in text and "--workers 2" in text and "ulimit -Hn" in text
    assert in_flight_advice(20_000, 2) is None
    assert "--workers 10" in (in_flight_advice(2_400, 1) or "")


def test_serve_says_at_start_when_the_descriptor_limit_is_too_low(tmp_path: Path) -> None:
    """A real ``imagegate serve`` started under a hard limit of 4,096 descriptors says so on stderr."""
    import resource
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 4096))

    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGEGATE_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "imagegate", "serve", "--port", str(port), "--data-dir", str(tmp_path / "data")],
        env=env, stderr=subprocess.PIPE, text=True, preexec_fn=low_limit,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # the advice comes before uvicorn's first line
        assert "open-file limit is 4,096" in line and "--workers 6" in line, line
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stderr.close()  # type: ignore[union-attr]

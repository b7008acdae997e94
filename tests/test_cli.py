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

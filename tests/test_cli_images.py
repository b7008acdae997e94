"""``imagegate generate`` / ``edit``: the new options, and user errors as one line (real processes, offline)."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from tests.test_cli import run


def test_a_missing_input_file_is_one_line(tmp_path: Path) -> None:
    out = run("edit", "nope.png", "--prompt", "x", "-o", "y.png", "--data-dir", "data", cwd=tmp_path)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().count("\n") == 0 and "nope.png" in out.stderr


def test_an_output_format_it_cannot_write_is_refused(tmp_path: Path) -> None:
    out = run("generate", "x", "-o", "out.tiff", "--data-dir", "data", cwd=tmp_path)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "out.tiff" in out.stderr and "png" in out.stderr
    assert not (tmp_path / "out.tiff").exists()
    out = run("generate", "x", "-o", "out.png", "--format", "jpeg", "--data-dir", "data", cwd=tmp_path)
    assert out.returncode == 1 and "does not match" in out.stderr


def test_format_aspect_ratio_resolution_and_quality(tmp_path: Path) -> None:
    out = run(
        "generate", "a fox", "-o", "fox", "--format", "webp", "--aspect-ratio", "16:9", "--resolution", "1K",
        "--quality", "high", "--data-dir", "data", cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    img = Image.open(tmp_path / "fox")
    assert img.format == "WEBP" and img.size == (1376, 768)  # 16:9 at 1K


def test_dry_run_prints_the_estimate_and_writes_nothing(tmp_path: Path) -> None:
    out = run("generate", "x", "--dry-run", "--resolution", "2K", "--data-dir", "data", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert body["estimated"] is True
    assert {o["provider"] for o in body["offers"]} == {"gemini", "vertex", "replicate", "fal"}
    assert not list(tmp_path.glob("*.png"))


def test_provider_forces_one(tmp_path: Path) -> None:
    out = run("generate", "x", "-o", "x.png", "--provider", "vertex", "--data-dir", "data", cwd=tmp_path)
    assert out.returncode == 1 and "'vertex' is not configured" in out.stderr  # offline: no Vertex credentials
    Image.new("RGB", (64, 64)).save(tmp_path / "in.png")
    out = run("edit", "in.png", "--prompt", "x", "--dry-run", "--provider", "fal", "--data-dir", "data", cwd=tmp_path)
    assert out.returncode == 1 and "'fal' is not configured" in out.stderr


def test_provider_routes_to_that_provider(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from imagegate.testing.fleet import Fleet, ThreadedFleet

    fleet = ThreadedFleet(Fleet(workdir=tmp_path / "fleet", providers=("gemini", "fal")))
    fleet.start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGEGATE_")}
        env.update(fleet.fleet.env())
        argv = [sys.executable, "-m", "imagegate", "generate", "x", "-o", "x.png", "--provider", "fal"]
        out = subprocess.run(
            [*argv, "--data-dir", "data"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        assert out.returncode == 0, out.stderr
        assert "provider=fal" in out.stderr
        assert fleet.fleet.generation_calls("gemini") == 0
    finally:
        fleet.stop()

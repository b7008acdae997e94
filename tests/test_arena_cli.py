"""``imagegate arena import | leaderboard | prefill`` as real processes (offline: placeholder provider)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli import run


def test_import_then_leaderboard_then_prefill(tmp_path: Path) -> None:
    battles = [
        {"model_a": "gpt-image-1", "model_b": "someone-elses-model", "winner": "model_a", "anony": True,
         "tstamp": 1.7e9, "judge": "j", "question_id": "q"}
    ] * 5 + [{"model_a": "someone-elses-model", "model_b": "gpt-image-1", "winner": "tie", "anony": False}]  # fmt: skip
    (tmp_path / "battles.json").write_text(json.dumps(battles))
    out = run("arena", "import", "battles.json", "--competition", "modern-clean-menu", "--data-dir", "d", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "imported 6 battles (5 counted, 1 not anonymous)" in out.stdout

    board = run("arena", "leaderboard", "--competition", "modern-clean-menu", "--data-dir", "d", cwd=tmp_path)
    assert board.returncode == 0, board.stderr
    lines = board.stdout.splitlines()
    assert lines[0].startswith("Modern Clean Menu: 5 battles, 2 ranked")
    assert lines[2].split()[:2] == ["#1", "gpt-image-1"] and "5/0/0" in lines[2]
    as_json = run("arena", "leaderboard", "--category", "text-rendering-text-to-image", "--json", "--data-dir", "d",
                  cwd=tmp_path)  # fmt: skip
    body = json.loads(as_json.stdout)
    assert body["battles"] == 5 and {r["model"] for r in body["rows"]} == {"gpt-image-1", "someone-elses-model"}

    filled = run("arena", "prefill", "2", "--task", "image-editing", "--data-dir", "d", cwd=tmp_path)
    assert filled.returncode == 0, filled.stderr
    assert "generated 2 battles into the pool" in filled.stdout

    (tmp_path / "bad.jsonl").write_text('{"model_a": "a", "model_b": "b", "winner": "model_a", "anony": true}\n{"x"\n')
    bad = run("arena", "import", "bad.jsonl", "--data-dir", "d", cwd=tmp_path)
    assert bad.returncode == 1 and "line 2" in bad.stderr

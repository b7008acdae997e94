"""A batch taken over after its runner died resumes from its output file: finished lines are not run again, a torn
last line is dropped and re-run, every custom_id ends up exactly once."""

from __future__ import annotations

import json
from pathlib import Path

from imagegate.services import build_services
from imagegate.settings import Settings

GEN = "/v1/images/generations"


async def test_resume_skips_finished_lines_and_repairs_a_torn_one(tmp_path: Path) -> None:
    services = await build_services(Settings(data_dir=tmp_path / "data"))
    try:
        assert services.work is not None
        batches = services.work.batches
        src = batches.files.scratch("input.jsonl")
        src.write_text(
            "\n".join(
                json.dumps(
                    {
                        "custom_id": f"r{i}",
                        "method": "POST",
                        "url": GEN,
                        "body": {"model": "gemini-3-pro-image", "prompt": f"p{i}", "response_format": "b64_json"},
                    }
                )
                for i in range(6)
            )
            + "\n\n"  # blank lines are skipped
        )
        file_row = batches.files.add("", "batch", "input.jsonl", src)
        created = await batches.create("", {"input_file_id": file_row.id, "endpoint": GEN, "completion_window": "24h"})
        assert created["status"] == "validating" and created["request_counts"]["total"] == 6
        # what a runner that died had written: two whole lines and half of a third
        before = [
            {"id": f"batch_req_old{i}", "custom_id": f"r{i}", "response": {"status_code": 200}, "error": None}
            for i in (0, 3)
        ]
        out = batches.files.scratch(f"{created['id']}.output.jsonl")
        out.write_bytes(b"".join(json.dumps(b).encode() + b"\n" for b in before) + b'{"id": "batch_req_torn", "cu')
        assert await batches.run_next("runner-2")
        row = batches.store.get(created["id"])
        assert row is not None and row.status == "completed" and row.completed == 6 and row.failed == 0
        assert row.output_file_id is not None and row.error_file_id is None
        lines = [
            json.loads(x)
            for x in batches.files.path(batches.files.get(row.output_file_id, "")).read_text().splitlines()
        ]
        assert sorted(x["custom_id"] for x in lines) == [f"r{i}" for i in range(6)]
        assert [x["id"] for x in lines[:2]] == ["batch_req_old0", "batch_req_old3"]  # kept, not re-run
        assert await batches.run_next("runner-2") is False  # nothing left to claim
    finally:
        await services.aclose()

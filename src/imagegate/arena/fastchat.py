"""FastChat's battle records (``clean_battle_*.json``): a JSON array or JSON lines of
``{"model_a", "model_b", "winner", "anony", "tstamp", "judge", "question_id", ...}``.

``parse`` validates the whole file before anything is stored and names the line of the first bad record; only
anonymous battles count (the others are kept, uncounted, so an export gives them back).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from imagegate.arena.store import WINNERS, new_battle_id
from imagegate.store.db import utcnow

MAX_TSTAMP = 32503680000.0  # year 3000; also refuses NaN and infinities


class BattleFileError(ValueError):
    """A malformed battle file; the message names the line."""


@dataclass(frozen=True, slots=True)
class Record:
    model_a: str
    model_b: str
    winner: str
    anony: bool
    tstamp: float | None
    judge: str | None
    question_id: str | None


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _items(text: str) -> list[tuple[int, Any]]:
    """``(line, value)`` per record, from a JSON array or JSON lines."""
    stripped = text.lstrip()
    if not stripped:
        raise BattleFileError("the file is empty: expected a JSON array or JSON lines of battles")
    decoder = json.JSONDecoder()
    out: list[tuple[int, Any]] = []
    if stripped[0] == "[":
        pos = text.index("[") + 1
        while True:
            while pos < len(text) and text[pos] in " \t\r\n,":
                pos += 1
            if pos >= len(text):
                raise BattleFileError(f"line {_line(text, pos)}: the JSON array is not closed")
            if text[pos] == "]":
                if text[pos + 1 :].strip():
                    raise BattleFileError(f"line {_line(text, pos)}: unexpected text after the JSON array")
                return out
            try:
                value, end = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as exc:  # name the line the record starts on, and where it broke
                where = f"{exc.msg} at line {exc.lineno}, column {exc.colno}"
                raise BattleFileError(f"line {_line(text, pos)}: invalid JSON ({where})") from None
            out.append((_line(text, pos), value))
            pos = end
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            out.append((number, json.loads(raw)))
        except json.JSONDecodeError as exc:
            raise BattleFileError(f"line {number}: invalid JSON ({exc.msg})") from None
    return out


def _record(line: int, item: Any) -> Record:
    if not isinstance(item, dict):
        raise BattleFileError(f"line {line}: a battle must be a JSON object")

    def text_field(name: str, required: bool) -> str | None:
        value = item.get(name)
        if value is None and not required:
            return None
        if isinstance(value, int | float) and not isinstance(value, bool) and name == "question_id":
            return str(value)
        if not isinstance(value, str) or not value.strip() or len(value) > 200:
            raise BattleFileError(f"line {line}: '{name}' must be a non-empty string (at most 200 characters)")
        return value.strip()

    model_a = text_field("model_a", True)
    model_b = text_field("model_b", True)
    assert model_a is not None and model_b is not None
    if model_a == model_b:
        raise BattleFileError(f"line {line}: model_a and model_b are the same model ('{model_a}')")
    winner = item.get("winner")
    if not isinstance(winner, str) or winner not in WINNERS:
        raise BattleFileError(f"line {line}: 'winner' must be one of {', '.join(WINNERS)}, not {winner!r}")
    anony = item.get("anony", False)
    if not isinstance(anony, bool):
        raise BattleFileError(f"line {line}: 'anony' must be true or false")
    tstamp = item.get("tstamp")
    if tstamp is not None and (
        isinstance(tstamp, bool) or not isinstance(tstamp, int | float) or not 0 <= tstamp < MAX_TSTAMP
    ):
        raise BattleFileError(f"line {line}: 'tstamp' must be a number of unix seconds (0 to {MAX_TSTAMP:.0f})")
    return Record(
        model_a, model_b, winner, anony, None if tstamp is None else float(tstamp),
        text_field("judge", False), text_field("question_id", False),
    )  # fmt: skip


def parse(data: bytes) -> list[Record]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BattleFileError(
            f"line {_line(data[: exc.start].decode('utf-8', 'replace'), exc.start)}: not UTF-8"
        ) from None
    return [_record(line, item) for line, item in _items(text)]


def import_rows(
    records: list[Record], task: str, competition: str | None, name_of: Callable[[str], str]
) -> list[dict[str, Any]]:
    """Battle rows for the table, voted at their ``tstamp``; counted when anonymous."""
    now = utcnow()
    rows = []
    for r in records:
        rows.append(
            {"public_id": new_battle_id(), "source": "import", "task": task, "competition": competition,
             "prompt": None, "model_a": name_of(r.model_a), "model_b": name_of(r.model_b), "image_a": None,
             "image_b": None, "cost_micros": 0, "status": "voted", "created_at": now, "served_at": None,
             "revealed_at": None, "voted_at": now if r.tstamp is None else datetime.fromtimestamp(r.tstamp, UTC),
             "voter": r.judge, "winner": r.winner, "anony": r.anony, "counted": r.anony,
             "counted_at": now if r.anony else None, "judge": r.judge, "question_id": r.question_id,
             "tstamp": r.tstamp}
        )  # fmt: skip
    return rows


def export_record(row: Any) -> dict[str, Any]:
    """One stored battle in FastChat's shape (plus imagegate's task, competition and battle id)."""
    return {
        "question_id": row.question_id or row.competition or row.public_id,
        "model_a": row.model_a,
        "model_b": row.model_b,
        "winner": row.winner,
        "judge": row.judge or row.voter,
        "anony": bool(row.counted),
        "tstamp": row.tstamp,
        "task": row.task,
        "competition": row.competition,
        "battle_id": row.public_id,
    }

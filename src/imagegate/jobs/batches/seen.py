"""A set of custom ids that does not live in memory: a private, temporary SQLite database (spilled to disk past a
small page cache), so checking a 50,000-line file for duplicates costs the same memory as a 1,000-line one."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

CACHE_KIB = 1024


class SeenIds:
    def __init__(self) -> None:
        # "": a temporary on-disk database, deleted when closed; used by one task at a time, from any thread
        self._db = sqlite3.connect("", check_same_thread=False)
        self._db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE ids (id TEXT PRIMARY KEY) WITHOUT ROWID")
        self.count = 0

    def add(self, custom_id: str) -> bool:
        """Add ``custom_id``; ``False`` when it was already there."""
        try:
            self._db.execute("INSERT INTO ids VALUES (?)", (custom_id,))
        except sqlite3.IntegrityError:
            return False
        self.count += 1
        return True

    def __contains__(self, custom_id: object) -> bool:
        return self._db.execute("SELECT 1 FROM ids WHERE id = ?", (custom_id,)).fetchone() is not None

    def __len__(self) -> int:
        return self.count

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SeenIds:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class OffsetIndex:
    """``custom_id -> byte offset`` of its line in the input file, on disk like ``SeenIds``."""

    def __init__(self) -> None:
        self._db = sqlite3.connect("", check_same_thread=False)
        self._db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("CREATE TABLE ids (id TEXT PRIMARY KEY, offset INTEGER) WITHOUT ROWID")

    def put(self, custom_id: str, offset: int) -> None:
        self._db.execute("INSERT OR REPLACE INTO ids VALUES (?, ?)", (custom_id, offset))

    def get(self, custom_id: str) -> int | None:
        row = self._db.execute("SELECT offset FROM ids WHERE id = ?", (custom_id,)).fetchone()
        return int(row[0]) if row else None

    def iter_ids(self) -> Iterator[str]:
        cursor = self._db.execute("SELECT id FROM ids")
        while rows := cursor.fetchmany(1000):
            yield from (r[0] for r in rows)

    def close(self) -> None:
        self._db.close()

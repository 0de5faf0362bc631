"""The on-disk spool: every signed message is committed here before it is published and
deleted only once the broker has acknowledged it, so a crash, reboot or broker outage
loses nothing. Rows leave in id order, which is the order they were written."""

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edge.protocol.filemodes import prepare_private_db

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class SpooledMessage:
    id: int
    topic: str
    payload: bytes


class Spool:
    """Thread-safe: producers append while the link's sender reads and deletes."""

    def __init__(self, path: Path, sync: Literal["full", "normal"] = "full") -> None:
        self.path = path
        self.quarantined: Path | None = None
        self._lock = threading.Lock()
        try:
            self._db = self._open(sync)
        except sqlite3.DatabaseError as error:
            self.quarantined = self._quarantine(error)
            self._db = self._open(sync)

    def _open(self, sync: str) -> sqlite3.Connection:
        prepare_private_db(self.path)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={sync.upper()}")
            verdict = db.execute("PRAGMA quick_check").fetchone()[0]
            if verdict != "ok":
                raise sqlite3.DatabaseError(f"quick_check: {verdict}")
            db.executescript(_SCHEMA)
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _quarantine(self, error: sqlite3.DatabaseError) -> Path:
        """Keep a corrupt spool aside for recovery instead of refusing to run the node."""
        stamp = time.strftime("%Y%m%dT%H%M%S") + f".{time.time_ns() % 1_000_000_000:09d}"
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            part = Path(str(self.path) + suffix)
            if part.exists():
                part.rename(Path(str(target) + suffix))
        log.error("spool %s is corrupt (%s); kept as %s, starting an empty spool", self.path, error, target)
        return target

    def append(self, topic: str, payload: bytes) -> int:
        with self._lock:
            cursor = self._db.execute("INSERT INTO spool(topic, payload) VALUES (?, ?)", (topic, payload))
            assert cursor.lastrowid is not None
            return cursor.lastrowid

    def after(self, last_id: int, limit: int) -> list[SpooledMessage]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, topic, payload FROM spool WHERE id > ? ORDER BY id LIMIT ?", (last_id, limit)
            ).fetchall()
        return [SpooledMessage(row[0], row[1], bytes(row[2])) for row in rows]

    def delete(self, ids: list[int]) -> None:
        if not ids:
            return
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("DELETE FROM spool WHERE id = ?", [(i,) for i in ids])
            self._db.execute("COMMIT")

    def depth(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM spool").fetchone()[0])

    def by_topic(self) -> dict[str, int]:
        """How many messages wait, per topic."""
        with self._lock:
            rows = self._db.execute("SELECT topic, count(*) FROM spool GROUP BY topic ORDER BY topic").fetchall()
        return {str(topic): int(count) for topic, count in rows}

    def close(self) -> None:
        with self._lock:
            self._db.close()

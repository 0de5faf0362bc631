"""The journal (SQLite, WAL): every accepted message with its receive time, the exact signed
payload for audit, reject counts, the device table, the gateway's own boot counter, the
receipts issued, and the upstream outbox (what waits to be handed to the broker for upstream).

A batch is one transaction; the ingest acknowledges its messages only after `commit`.
"""

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import msgspec

from edge.protocol.envelope import SIGNATURE_BYTES
from edge.protocol.filemodes import prepare_private_db

_SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY,
    recv_ms INTEGER NOT NULL,
    topic TEXT NOT NULL,
    dev TEXT NOT NULL,
    boot INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    type TEXT NOT NULL,
    payload BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS journal_event ON journal(dev, boot, seq) WHERE seq > 0;
-- a state is a duplicate only if byte-identical: a will and an online state may share a ts
CREATE UNIQUE INDEX IF NOT EXISTS journal_state ON journal(dev, boot, payload) WHERE seq = 0;
CREATE TABLE IF NOT EXISTS rejects (
    reason TEXT NOT NULL,
    dev TEXT NOT NULL,
    count INTEGER NOT NULL,
    last_ms INTEGER NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (reason, dev)
);
CREATE TABLE IF NOT EXISTS devices (
    dev TEXT PRIMARY KEY,
    boot INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    last_recv_ms INTEGER NOT NULL,
    state TEXT,
    offset_ms INTEGER,
    accepted INTEGER NOT NULL,
    duplicates INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
-- an operator's reset of a device's marks: what was journaled up to then no longer counts
-- towards them (it stays in the journal, for audit and replay)
CREATE TABLE IF NOT EXISTS mark_resets (dev TEXT PRIMARY KEY, upto_id INTEGER NOT NULL, at_ms INTEGER NOT NULL);
-- each session's receipt once: restarting replays the journal and finds the receipts sent before
CREATE TABLE IF NOT EXISTS receipts (
    id INTEGER PRIMARY KEY,
    session TEXT NOT NULL UNIQUE,
    payload BLOB NOT NULL,
    queued_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    queued_ms INTEGER NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class JournalRow:
    id: int
    recv_ms: int
    topic: str
    dev: str
    boot: int
    seq: int
    ts: int
    type: str
    payload: bytes

    @property
    def message(self) -> bytes:
        return self.payload[SIGNATURE_BYTES:]


class JournalInsert(NamedTuple):
    recv_ms: int
    topic: str
    dev: str
    boot: int
    seq: int
    ts: int
    type: str
    payload: bytes


_INSERT = "INSERT OR IGNORE INTO journal(recv_ms, topic, dev, boot, seq, ts, type, payload) VALUES (?,?,?,?,?,?,?,?)"


@dataclass(frozen=True, slots=True)
class DeviceRow:
    dev: str
    boot: int
    seq: int
    last_recv_ms: int
    state: str | None
    offset_ms: int | None
    accepted: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message in the upstream outbox: kept until the broker has taken it (PUBACK)."""

    id: int
    topic: str
    payload: bytes


class JournalError(Exception):
    """The journal file cannot be opened as a journal. It is the store's record, so it is
    never moved aside automatically: an operator decides."""


class Journal:
    def __init__(self, path: Path, sync: str = "full") -> None:
        prepare_private_db(path)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={sync.upper()}")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as error:
            self._db.close()
            raise JournalError(f"journal {path} cannot be opened: {error}") from None

    def close(self) -> None:
        self._db.close()

    def begin(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self._db.execute("COMMIT")

    def rollback(self) -> None:
        self._db.execute("ROLLBACK")

    def insert(
        self, recv_ms: int, topic: str, dev: str, boot: int, seq: int, ts: int, kind: str, payload: bytes
    ) -> bool:
        """Add a message; False when the journal already holds it (a redelivered duplicate)."""
        cursor = self._db.execute(_INSERT, (recv_ms, topic, dev, boot, seq, ts, kind, payload))
        return cursor.rowcount == 1

    def insert_many(self, rows: list[JournalInsert]) -> list[bool]:
        """Add messages in order; per row, False where the journal already held it.

        One statement for the whole batch; only when it meets a duplicate is it undone and
        redone row by row, to learn which rows were new.
        """
        if not rows:
            return []
        self._db.execute("SAVEPOINT insert_many")
        if self._db.executemany(_INSERT, rows).rowcount == len(rows):
            self._db.execute("RELEASE insert_many")
            return [True] * len(rows)
        self._db.execute("ROLLBACK TO insert_many")
        self._db.execute("RELEASE insert_many")
        return [self.insert(*row) for row in rows]

    def payload_of(self, dev: str, boot: int, seq: int) -> bytes | None:
        """The journaled payload of an event, or None when the journal does not hold it."""
        row = self._db.execute(
            "SELECT payload FROM journal WHERE dev=? AND boot=? AND seq=?", (dev, boot, seq)
        ).fetchone()
        return bytes(row[0]) if row is not None else None

    def holds(self, dev: str, boot: int, seq: int) -> bool:
        return self.payload_of(dev, boot, seq) is not None

    def holds_state(self, dev: str, boot: int, payload: bytes) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM journal WHERE dev=? AND boot=? AND payload=? AND seq=0", (dev, boot, payload)
        ).fetchone()
        return row is not None

    def count_reject(self, reason: str, dev: str, now_ms: int, detail: str) -> None:
        self._db.execute(
            "INSERT INTO rejects(reason, dev, count, last_ms, detail) VALUES (?,?,1,?,?) "
            "ON CONFLICT(reason, dev) DO UPDATE SET count=count+1, last_ms=excluded.last_ms, detail=excluded.detail",
            (reason, dev, now_ms, detail[:200]),
        )

    def save_device(self, row: DeviceRow) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO devices(dev, boot, seq, last_recv_ms, state, offset_ms, accepted, duplicates) "
            "VALUES (?,?,?,?,?,?,?,?)",
            (row.dev, row.boot, row.seq, row.last_recv_ms, row.state, row.offset_ms, row.accepted, row.duplicates),
        )

    def devices(self) -> dict[str, DeviceRow]:
        rows = self._db.execute(
            "SELECT dev, boot, seq, last_recv_ms, state, offset_ms, accepted, duplicates FROM devices"
        ).fetchall()
        return {row[0]: DeviceRow(*row) for row in rows}

    def high_water_marks(self) -> dict[str, tuple[int, int]]:
        """The newest (boot, seq) of an event journaled per device since its marks were last
        reset: the dedupe state to restart from."""
        marks = {dev: self._newest(dev, after, "seq > 0") for dev, after in self._counted_from().items()}
        return {dev: mark for dev, mark in marks.items() if mark is not None}

    def newest_boots(self) -> dict[str, int]:
        """The newest boot of anything journaled per device since its marks were last reset."""
        boots: dict[str, int] = {}
        for dev, after in self._counted_from().items():
            found = [mark[0] for where in ("seq > 0", "seq = 0") if (mark := self._newest(dev, after, where))]
            if found:
                boots[dev] = max(found)
        return boots

    def _counted_from(self) -> dict[str, int]:
        """Per device, the journal id after which its rows count towards its marks."""
        devs = "SELECT DISTINCT dev FROM journal WHERE seq "
        senders = {row[0] for where in ("> 0", "= 0") for row in self._db.execute(devs + where)}
        resets = dict(self._db.execute("SELECT dev, upto_id FROM mark_resets").fetchall())
        return {dev: resets.get(dev, 0) for dev in senders}

    def _newest(self, dev: str, after_id: int, where: str) -> tuple[int, int] | None:
        """One walk down a partial unique index from its top (`where` picks the index), so a
        start costs a few rows per device, however long the journal."""
        row = self._db.execute(
            f"SELECT boot, seq FROM journal WHERE dev=? AND {where} AND id > ? ORDER BY boot DESC, seq DESC LIMIT 1",
            (dev, after_id),
        ).fetchone()
        return (row[0], row[1]) if row is not None else None

    def boots_of(self, dev: str) -> set[int]:
        """Every boot journaled from `dev`, whatever resets its marks had: the journal's unique
        index still holds each of them. Two queries, so that each reads one of the partial
        unique indexes instead of the whole journal."""
        boots = "SELECT DISTINCT boot FROM journal WHERE dev=? AND seq "
        return {row[0] for query in (boots + "> 0", boots + "= 0") for row in self._db.execute(query, (dev,))}

    def reset_marks(self, dev: str, now_ms: int) -> None:
        """Forget a device's marks (its next message starts them afresh) and say so to a
        running journal process through `marks_generation`; the journal process, which owns
        the device rows, mends the device's row to match when it rereads the marks."""
        self.begin()
        try:
            upto = self._db.execute("SELECT coalesce(max(id), 0) FROM journal").fetchone()[0]
            self._db.execute(
                "INSERT OR REPLACE INTO mark_resets(dev, upto_id, at_ms) VALUES (?,?,?)", (dev, upto, now_ms)
            )
            self._db.execute(
                "INSERT INTO meta(key, value) VALUES ('marks_reset', 1) ON CONFLICT(key) DO UPDATE SET value=value+1"
            )
            self.commit()
        except BaseException:
            self.rollback()
            raise

    def marks_generation(self) -> int:
        """Counts resets: a journal process rereads the marks when it changes."""
        row = self._db.execute("SELECT value FROM meta WHERE key='marks_reset'").fetchone()
        return row[0] if row else 0

    def rejects(self) -> list[tuple[str, str, int, int, str]]:
        return self._db.execute(
            "SELECT reason, dev, count, last_ms, detail FROM rejects ORDER BY reason, dev"
        ).fetchall()

    def counts(self) -> list[tuple[str, str, int]]:
        return self._db.execute(
            "SELECT dev, type, count(*) FROM journal GROUP BY dev, type ORDER BY dev, type"
        ).fetchall()

    def rows(
        self, dev: str | None = None, kind: str | None = None, after_id: int = 0, limit: int | None = None
    ) -> Iterator[JournalRow]:
        query = "SELECT id, recv_ms, topic, dev, boot, seq, ts, type, payload FROM journal WHERE id > ?"
        params: list[object] = [after_id]
        if dev is not None:
            query += " AND dev = ?"
            params.append(dev)
        if kind is not None:
            query += " AND type = ?"
            params.append(kind)
        query += " ORDER BY id"
        if limit is not None:
            query += " LIMIT ?"
            params.append(limit)
        for row in self._db.execute(query, params):
            yield JournalRow(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], bytes(row[8]))

    def queue_upstream(self, topic: str, payload: bytes, now_ms: int) -> Outgoing:
        """Add to the outbox; inside a batch's transaction, so it commits with the message it forwards."""
        cursor = self._db.execute(
            "INSERT INTO outbox(topic, payload, queued_ms) VALUES (?,?,?)", (topic, payload, now_ms)
        )
        assert cursor.lastrowid is not None
        return Outgoing(cursor.lastrowid, topic, payload)

    def issue_receipt(self, session: str, topic: str, sign: Callable[[int], bytes], now_ms: int) -> Outgoing | None:
        """Record a session's receipt and queue it for upstream, inside the caller's transaction;
        None when the session's receipt was issued before. `sign` makes the payload from the
        receipt's number, which is its sequence number on the wire."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO receipts(session, payload, queued_ms) VALUES (?, x'', ?)", (session, now_ms)
        )
        if cursor.rowcount == 0 or cursor.lastrowid is None:
            return None
        payload = sign(cursor.lastrowid)
        self._db.execute("UPDATE receipts SET payload=? WHERE id=?", (payload, cursor.lastrowid))
        return self.queue_upstream(topic, payload, now_ms)

    def outbox(self) -> list[Outgoing]:
        return [Outgoing(row[0], row[1], bytes(row[2])) for row in self._db.execute(
            "SELECT id, topic, payload FROM outbox ORDER BY id"
        )]  # fmt: skip

    def delivered(self, outgoing_id: int) -> None:
        self._db.execute("DELETE FROM outbox WHERE id=?", (outgoing_id,))

    def next_boot(self) -> int:
        """Count a gateway start; its commands are stamped with this boot."""
        self.begin()
        row = self._db.execute("SELECT value FROM meta WHERE key='boot'").fetchone()
        boot = (row[0] if row else 0) + 1
        self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('boot', ?)", (boot,))
        self.commit()
        return boot


def replay_line(row: JournalRow) -> bytes:
    """One line of the replay format: {"topic", "msg", "recv_ms"}, the message spliced in byte for byte."""
    return b'{"topic":%s,"msg":%s,"recv_ms":%d}' % (msgspec.json.encode(row.topic), row.message, row.recv_ms)

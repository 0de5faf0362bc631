"""Receipts the stores' gateways send, kept once per (store, session) in SQLite: what billing
would charge, and what the demo compares with the simulated store's ground truth.

A gateway sends each receipt once, but the broker may deliver it again (a crash before the
acknowledgement), so a second copy of a session's receipt is counted and otherwise ignored.
"""

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from edge.protocol.filemodes import prepare_private_db
from edge.protocol.messages import Receipt

_SCHEMA = """
CREATE TABLE IF NOT EXISTS receipts (
    store TEXT NOT NULL,
    session TEXT NOT NULL,
    account TEXT,
    lines TEXT NOT NULL,
    opened_ms INTEGER NOT NULL,
    closed_ms INTEGER NOT NULL,
    review INTEGER NOT NULL,
    final_ms INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    PRIMARY KEY (store, session)
);
"""


@dataclass(frozen=True, slots=True)
class StoredReceipt:
    store: str
    session: str
    account: str | None
    lines: list[tuple[str, int]]
    opened_ms: int
    closed_ms: int
    review: bool
    final_ms: int  # the store time at which the gateway made it final
    received_ms: int


class ReceiptBook:
    def __init__(self, path: Path) -> None:
        prepare_private_db(path)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def record(self, store: str, receipt: Receipt, received_ms: int) -> bool:
        """Keep a receipt; False when this session's receipt is already kept."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO receipts VALUES (?,?,?,?,?,?,?,?,?)",
            (
                store,
                receipt.session,
                receipt.account,
                json.dumps(receipt.lines),
                receipt.opened_ms,
                receipt.closed_ms,
                int(receipt.review),
                receipt.ts,
                received_ms,
            ),
        )
        return cursor.rowcount == 1

    def receipts(self, store: str | None = None) -> list[StoredReceipt]:
        query = "SELECT * FROM receipts"
        params: tuple[str, ...] = ()
        if store is not None:
            query += " WHERE store = ?"
            params = (store,)
        return [
            StoredReceipt(
                row[0],
                row[1],
                row[2],
                [(sku, qty) for sku, qty in json.loads(row[3])],
                row[4],
                row[5],
                bool(row[6]),
                row[7],
                row[8],
            )  # fmt: skip
            for row in self._db.execute(query + " ORDER BY closed_ms, session", params)
        ]

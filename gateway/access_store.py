"""The gateway's access record (SQLite, WAL, beside the journal): the QR nonces already let
through, kept until their tokens expire, and the grants with the sessions they opened.

The account a session belongs to is kept here, on the gateway only; nothing published for
dashboards carries it.
"""

import sqlite3
from pathlib import Path

from edge.protocol.filemodes import prepare_private_db
from gateway.access import Granted, Output, SessionOpened, TokenUsed

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (nonce BLOB PRIMARY KEY, expires_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS grants (
    req TEXT PRIMARY KEY,
    gate TEXT NOT NULL,
    session TEXT NOT NULL,
    account TEXT NOT NULL,
    via TEXT NOT NULL,
    granted_ms INTEGER NOT NULL,
    entered_ms INTEGER
);
"""


class AccessStore:
    def __init__(self, path: Path) -> None:
        prepare_private_db(path)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def forget(self, now_ms: int) -> None:
        """Drop the nonces of expired tokens: no token can be shown with them again."""
        self._db.execute("DELETE FROM tokens WHERE expires_ms <= ?", (now_ms,))

    def used_tokens(self, now_ms: int) -> dict[bytes, int]:
        """The nonces still to refuse, after forgetting those whose tokens have expired."""
        self.forget(now_ms)
        return {bytes(nonce): expires for nonce, expires in self._db.execute("SELECT nonce, expires_ms FROM tokens")}

    def record(self, output: Output) -> None:
        """Persist what an output says; commands (`Send`) are the caller's to send."""
        match output:
            case TokenUsed(nonce=nonce, expires_ms=expires):
                self._db.execute("INSERT OR IGNORE INTO tokens(nonce, expires_ms) VALUES (?,?)", (nonce, expires))
            case Granted(req=req, gate=gate, session=session, account=account, via=via, at_ms=at):
                self._db.execute(
                    "INSERT OR IGNORE INTO grants(req, gate, session, account, via, granted_ms) VALUES (?,?,?,?,?,?)",
                    (req, gate, session, account, via, at),
                )
            case SessionOpened(session=session, at_ms=at):
                self._db.execute("UPDATE grants SET entered_ms=? WHERE session=?", (at, session))

    def sessions(self) -> list[tuple[str, str, str, str, int, int | None]]:
        """(session, account, gate, via, granted, entered) per grant, oldest first."""
        return self._db.execute(
            "SELECT session, account, gate, via, granted_ms, entered_ms FROM grants ORDER BY granted_ms"
        ).fetchall()

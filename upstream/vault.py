"""The template vault (SQLite): enrolled palm templates encrypted at rest, and the consent
behind each enrolment.

A template is stored as a secret box (XSalsa20-Poly1305) around msgpack `[account, template]`,
so a ciphertext copied onto another account's row fails to open as that account's. The key
is a file of its own (0600) beside upstream's other keys, never in the database. Consent
records outlive the enrolment they allowed: deleting or purging an enrolment removes the
template and marks the consent withdrawn, so what was agreed and when stays answerable.
"""

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import msgspec
from nacl.exceptions import CryptoError
from nacl.secret import SecretBox

from edge.protocol.filemodes import prepare_private_db
from edge.protocol.palm_template import PalmTemplate

_SCHEMA = """
CREATE TABLE IF NOT EXISTS enrolments (
    id INTEGER PRIMARY KEY,
    account TEXT NOT NULL,
    sealed BLOB NOT NULL,
    enrolled_ms INTEGER NOT NULL,
    last_used_ms INTEGER NOT NULL,
    consent BLOB NOT NULL REFERENCES consents(nonce)
);
CREATE INDEX IF NOT EXISTS enrolments_account ON enrolments(account);
CREATE TABLE IF NOT EXISTS consents (
    nonce BLOB PRIMARY KEY,
    account TEXT NOT NULL,
    given_ms INTEGER NOT NULL,
    recorded_ms INTEGER NOT NULL,
    store TEXT NOT NULL,
    gate TEXT NOT NULL,
    ended_ms INTEGER,
    ended_why TEXT
);
"""


class VaultError(Exception):
    """A row that does not open with the vault key: the wrong key file, or tampering."""


class _Sealed(msgspec.Struct, array_like=True, frozen=True):
    account: str
    template: bytes


@dataclass(frozen=True, slots=True)
class Consent:
    """The shopper's agreement, as the app's enrolment token carried it."""

    nonce: bytes
    account: str
    given_ms: int
    store: str
    gate: str


@dataclass(frozen=True, slots=True)
class Enrolment:
    id: int
    account: str
    template: PalmTemplate


class Vault:
    def __init__(self, path: Path, box: SecretBox) -> None:
        prepare_private_db(path)
        self._box = box
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def enrolments(self) -> list[Enrolment]:
        """Every enrolment, opened; VaultError if any row does not open as its own."""
        found = []
        for row_id, account, sealed in self._db.execute("SELECT id, account, sealed FROM enrolments ORDER BY id"):
            try:
                inner = msgspec.msgpack.decode(self._box.decrypt(sealed), type=_Sealed)
            except (CryptoError, msgspec.DecodeError, msgspec.ValidationError):
                raise VaultError(f"enrolment {row_id} does not open with this vault key") from None
            if inner.account != account:
                raise VaultError(f"enrolment {row_id} holds another account's template")
            found.append(Enrolment(row_id, account, PalmTemplate.from_bytes(inner.template)))
        return found

    def consent_known(self, nonce: bytes) -> bool:
        return self._db.execute("SELECT 1 FROM consents WHERE nonce=?", (nonce,)).fetchone() is not None

    def enrol(self, template: PalmTemplate, consent: Consent, now_ms: int) -> int:
        """Record the consent and the encrypted template in one transaction; the new row's id."""
        sealed = self._box.encrypt(msgspec.msgpack.encode(_Sealed(consent.account, template.to_bytes())))
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute(
                "INSERT INTO consents(nonce, account, given_ms, recorded_ms, store, gate) VALUES (?,?,?,?,?,?)",
                (consent.nonce, consent.account, consent.given_ms, now_ms, consent.store, consent.gate),
            )
            cursor = self._db.execute(
                "INSERT INTO enrolments(account, sealed, enrolled_ms, last_used_ms, consent) VALUES (?,?,?,?,?)",
                (consent.account, bytes(sealed), now_ms, now_ms, consent.nonce),
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def used(self, enrolment_id: int, now_ms: int) -> None:
        self._db.execute("UPDATE enrolments SET last_used_ms=? WHERE id=?", (now_ms, enrolment_id))

    def _end(self, where: str, params: tuple[object, ...], now_ms: int, why: str) -> list[str]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            rows = self._db.execute(f"SELECT account, consent FROM enrolments WHERE {where}", params).fetchall()
            self._db.executemany(
                "UPDATE consents SET ended_ms=?, ended_why=? WHERE nonce=?", [(now_ms, why, row[1]) for row in rows]
            )
            self._db.execute(f"DELETE FROM enrolments WHERE {where}", params)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return sorted({row[0] for row in rows})

    def delete_account(self, account: str, now_ms: int) -> int:
        """Delete every template of `account`; how many there were."""
        rows = self._db.execute("SELECT count(*) FROM enrolments WHERE account=?", (account,)).fetchone()[0]
        self._end("account=?", (account,), now_ms, "deleted on request")
        return int(rows)

    def purge(self, unused_since_ms: int, now_ms: int) -> list[str]:
        """Delete the enrolments not used since `unused_since_ms`; the accounts they belonged to."""
        return self._end("last_used_ms < ?", (unused_since_ms,), now_ms, "purged unused")

    def counts(self) -> tuple[int, int]:
        """(enrolments, accounts)."""
        row = self._db.execute("SELECT count(*), count(DISTINCT account) FROM enrolments").fetchone()
        return int(row[0]), int(row[1])

    def consents(self) -> list[tuple[str, int, int, str, str, int | None, str | None]]:
        """(account, given, recorded, store, gate, ended, why) per consent, oldest first."""
        return self._db.execute(
            "SELECT account, given_ms, recorded_ms, store, gate, ended_ms, ended_why FROM consents ORDER BY recorded_ms"
        ).fetchall()

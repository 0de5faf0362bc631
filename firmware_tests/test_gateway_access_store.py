"""gateway/access_store.py: used QR nonces until expiry, and grants with their sessions."""

from pathlib import Path

from gateway.access import Granted, SessionOpened, TokenUsed
from gateway.access_store import AccessStore


def test_nonces_survive_a_reopen_until_their_tokens_expire(tmp_path: Path) -> None:
    store = AccessStore(tmp_path / "access.db")
    store.record(TokenUsed(b"a" * 16, 5_000))
    store.record(TokenUsed(b"b" * 16, 9_000))
    store.record(TokenUsed(b"b" * 16, 9_000))
    store.close()
    reopened = AccessStore(tmp_path / "access.db")
    assert reopened.used_tokens(1_000) == {b"a" * 16: 5_000, b"b" * 16: 9_000}
    assert reopened.used_tokens(5_000) == {b"b" * 16: 9_000}


def test_a_grant_becomes_a_session_when_its_passage_comes(tmp_path: Path) -> None:
    store = AccessStore(tmp_path / "access.db")
    store.record(Granted("r-1", "gate-01", "s-r-1", "acct-1", "qr", 1_000))
    store.record(Granted("r-2", "gate-01", "s-r-2", "acct-2", "palm", 2_000))
    store.record(SessionOpened("s-r-1", "acct-1", "gate-01", 1_500))
    assert store.sessions() == [
        ("s-r-1", "acct-1", "gate-01", "qr", 1_000, 1_500),
        ("s-r-2", "acct-2", "gate-01", "palm", 2_000, None),
    ]

"""upstream/vault.py: templates encrypted at rest, consent on record, deletion and purging."""

import sqlite3
from pathlib import Path

import pytest
from nacl.secret import SecretBox
from nacl.utils import random as random_bytes

from edge.gate.palm import PalmEncoder
from edge.protocol.palm_template import PalmTemplate
from hw.sim.palm import capture, identity
from upstream.vault import Consent, Vault, VaultError

KEY = random_bytes(SecretBox.KEY_SIZE)


def template(seed: int) -> PalmTemplate:
    return PalmEncoder().encode(capture(identity(seed), seed)).template


def consent(account: str, nonce: int) -> Consent:
    return Consent(bytes([nonce]) * 16, account, 1_000, "s1", "gate-01")


def test_templates_come_back_as_enrolled_and_are_not_on_disk_in_the_clear(tmp_path: Path) -> None:
    path = tmp_path / "vault.db"
    vault = Vault(path, SecretBox(KEY))
    first, second = template(1), template(2)
    vault.enrol(first, consent("acct-a", 1), 5_000)
    vault.enrol(second, consent("acct-b", 2), 6_000)
    vault.close()
    reopened = Vault(path, SecretBox(KEY))
    found = reopened.enrolments()
    assert [(e.account, e.template.to_bytes()) for e in found] == [
        ("acct-a", first.to_bytes()),
        ("acct-b", second.to_bytes()),
    ]
    reopened.close()
    on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for enrolled in (first, second):
        assert enrolled.to_bytes()[1:65] not in on_disk


def test_another_key_or_a_ciphertext_moved_to_another_account_does_not_open(tmp_path: Path) -> None:
    path = tmp_path / "vault.db"
    vault = Vault(path, SecretBox(KEY))
    vault.enrol(template(1), consent("acct-a", 1), 5_000)
    vault.enrol(template(2), consent("acct-b", 2), 5_000)
    vault.close()
    with pytest.raises(VaultError, match="does not open"):
        Vault(path, SecretBox(random_bytes(SecretBox.KEY_SIZE))).enrolments()
    db = sqlite3.connect(path)
    db.execute(
        "UPDATE enrolments SET sealed=(SELECT sealed FROM enrolments WHERE account='acct-a') WHERE account='acct-b'"
    )
    db.commit()
    db.close()
    with pytest.raises(VaultError, match="another account"):
        Vault(path, SecretBox(KEY)).enrolments()


def test_a_consent_counts_once_and_a_refused_enrolment_leaves_nothing(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "vault.db", SecretBox(KEY))
    vault.enrol(template(1), consent("acct-a", 1), 5_000)
    assert vault.consent_known(bytes([1]) * 16)
    assert not vault.consent_known(bytes([2]) * 16)
    with pytest.raises(sqlite3.IntegrityError):
        vault.enrol(template(2), consent("acct-a", 1), 6_000)
    assert vault.counts() == (1, 1)


def test_deleting_an_account_removes_its_templates_and_ends_its_consents(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "vault.db", SecretBox(KEY))
    vault.enrol(template(1), consent("acct-a", 1), 5_000)
    vault.enrol(template(2), consent("acct-a", 2), 5_000)
    vault.enrol(template(3), consent("acct-b", 3), 5_000)
    assert vault.delete_account("acct-a", 9_000) == 2
    assert [e.account for e in vault.enrolments()] == ["acct-b"]
    ended = [(c[0], c[5], c[6]) for c in vault.consents() if c[5] is not None]
    assert ended == [("acct-a", 9_000, "deleted on request")] * 2
    assert vault.delete_account("acct-a", 9_500) == 0


def test_purge_removes_only_what_went_unused(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "vault.db", SecretBox(KEY))
    old = vault.enrol(template(1), consent("acct-old", 1), 1_000)
    used = vault.enrol(template(2), consent("acct-used", 2), 1_000)
    vault.enrol(template(3), consent("acct-new", 3), 50_000)
    vault.used(used, 60_000)
    assert vault.purge(10_000, 70_000) == ["acct-old"]
    assert sorted(e.account for e in vault.enrolments()) == ["acct-new", "acct-used"]
    assert old not in [e.id for e in vault.enrolments()]

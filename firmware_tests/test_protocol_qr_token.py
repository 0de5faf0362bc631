"""QR entry tokens: upstream signs them, the gateway checks them offline."""

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nacl.signing import SigningKey

from edge.protocol.messages import Qr
from edge.protocol.qr_token import MAX_LIFETIME_MS, QrClaims, QrRefused, issue, verify

UPSTREAM = SigningKey(bytes(range(32)))
NOW = 1_800_000_000_000


def claims(**change: object) -> QrClaims:
    fields: dict[str, object] = {
        "account": "acct-7f3a",
        "purpose": "entry",
        "issued_ms": NOW - 1_000,
        "expires_ms": NOW + 300_000,
        "nonce": bytes(range(16)),
    }
    fields.update(change)
    return QrClaims(**fields)  # type: ignore[arg-type]


def test_a_token_upstream_signed_comes_back_with_its_claims() -> None:
    token = issue(claims(), UPSTREAM)
    assert verify(token, UPSTREAM.verify_key, NOW) == claims()
    assert len(token) < 300
    Qr(v=1, dev="gate-1", boot=1, seq=1, ts=NOW, req="r1", token=token)  # fits the `qr` event


def test_a_token_signed_by_anyone_else_is_forged() -> None:
    token = issue(claims(), SigningKey(bytes(32)))
    with pytest.raises(QrRefused) as refused:
        verify(token, UPSTREAM.verify_key, NOW)
    assert refused.value.reason == "forged"


@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=1, max_value=255))
def test_any_change_to_a_token_is_refused(position: int, flip: int) -> None:
    token = issue(claims(), UPSTREAM)
    body, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[position % len(raw)] ^= flip
    changed = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode() + "." + signature
    with pytest.raises(QrRefused) as refused:
        verify(changed, UPSTREAM.verify_key, NOW)
    assert refused.value.reason == "forged"


def test_an_expired_token_is_refused() -> None:
    token = issue(claims(expires_ms=NOW), UPSTREAM)
    with pytest.raises(QrRefused) as refused:
        verify(token, UPSTREAM.verify_key, NOW)
    assert refused.value.reason == "expired"


def test_a_token_from_the_future_is_refused() -> None:
    token = issue(claims(issued_ms=NOW + 120_000, expires_ms=NOW + 400_000), UPSTREAM)
    with pytest.raises(QrRefused) as refused:
        verify(token, UPSTREAM.verify_key, NOW)
    assert refused.value.reason == "not_yet_valid"


def test_a_token_valid_for_more_than_a_day_is_refused_even_if_signed() -> None:
    token = issue(claims(expires_ms=NOW - 1_000 + MAX_LIFETIME_MS + 1), UPSTREAM)
    with pytest.raises(QrRefused) as refused:
        verify(token, UPSTREAM.verify_key, NOW)
    assert refused.value.reason == "garbled"


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "!!!.???", "YWJj.YWJj"])
def test_garbage_is_refused(token: str) -> None:
    with pytest.raises(QrRefused) as refused:
        verify(token, UPSTREAM.verify_key, NOW)
    assert refused.value.reason in ("garbled", "forged")

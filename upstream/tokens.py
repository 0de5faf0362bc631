"""Issuing the app's tokens: claims with a fresh random nonce, signed with upstream's key."""

import secrets

from nacl.signing import SigningKey

from edge.protocol.qr_token import Purpose, QrClaims, issue


def app_token(key: SigningKey, account: str, purpose: Purpose, now_ms: int, ttl_ms: int) -> str:
    return issue(QrClaims(account, purpose, now_ms, now_ms + ttl_ms, secrets.token_bytes(16)), key)

"""The app's QR entry token: issued and signed by upstream, checked offline by the gateway.
Pure: keys and the time are passed in.

A token is `<claims>.<signature>`, both base64url without padding. The claims are msgpack
(account, purpose, issue and expiry times, a random nonce); the signature is upstream's
Ed25519 over a domain label and the claims, so no other upstream-signed message can pass for
a token. A token fits a QR code of version 10 or so, and a scanner types it as one line.

Replay is the gateway's to refuse (it keeps the nonces it has let through until they
expire); everything else that makes a token bad is refused here, each under its reason.
"""

import base64
import binascii
from typing import Annotated, Final, Literal

import msgspec
from msgspec import Meta
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from edge.protocol.messages import Ref

DOMAIN: Final = b"storeedge qr token v1\x00"
MAX_LIFETIME_MS: Final = 86_400_000  # a token valid for longer than a day is refused
CLOCK_SLACK_MS: Final = 60_000  # a token issued this far in the gateway's future still counts
Purpose = Literal["entry", "enroll"]
QrRefusal = Literal["garbled", "forged", "expired", "not_yet_valid"]


class QrClaims(msgspec.Struct, forbid_unknown_fields=True, frozen=True, array_like=True):
    account: Ref  # upstream's pseudonymous account token
    purpose: Purpose
    issued_ms: Annotated[int, Meta(ge=0, le=2**53)]
    expires_ms: Annotated[int, Meta(ge=0, le=2**53)]
    nonce: Annotated[bytes, Meta(min_length=16, max_length=16)]


class QrRefused(ValueError):
    def __init__(self, reason: QrRefusal, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason: QrRefusal = reason


_decoder = msgspec.msgpack.Decoder(QrClaims)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(claims: QrClaims, key: SigningKey) -> str:
    body = msgspec.msgpack.encode(claims)
    return f"{_b64(body)}.{_b64(key.sign(DOMAIN + body).signature)}"


def read_claims(token: str) -> QrClaims:
    """The claims of a token without checking its signature or times: only for a token
    already verified (the gateway's fusion engine learns a granted entry's account from it)."""
    try:
        return _decoder.decode(_unb64(token.split(".")[0]))
    except (ValueError, binascii.Error, msgspec.DecodeError) as error:
        raise QrRefused("garbled", "not a token's claims") from error


def verify(token: str, key: VerifyKey, now_ms: int) -> QrClaims:
    """The token's claims, if upstream signed it and it is valid at now_ms; else QrRefused."""
    try:
        body_text, signature_text = token.split(".")
        body, signature = _unb64(body_text), _unb64(signature_text)
    except (ValueError, binascii.Error) as error:
        raise QrRefused("garbled", "not <claims>.<signature> in base64url") from error
    try:
        key.verify(DOMAIN + body, signature)
    except (BadSignatureError, ValueError) as error:
        raise QrRefused("forged", "upstream's signature does not verify") from error
    try:
        claims = _decoder.decode(body)
    except msgspec.DecodeError as error:  # signed, so upstream made it: a version we do not know
        raise QrRefused("garbled", f"claims of an unknown form: {error}") from error
    if claims.expires_ms - claims.issued_ms > MAX_LIFETIME_MS:
        raise QrRefused("garbled", "valid for longer than a day")
    if claims.issued_ms > now_ms + CLOCK_SLACK_MS:
        raise QrRefused("not_yet_valid", "issued in the future")
    if now_ms >= claims.expires_ms:
        raise QrRefused("expired", f"expired {now_ms - claims.expires_ms} ms ago")
    return claims

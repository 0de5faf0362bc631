"""What a `palm` event's `sealed` field holds: palm templates (and for enrolment, the
shopper's app token) in a libsodium sealed box to upstream's X25519 key.

A sealed box is anonymous public-key encryption: only the holder of upstream's private key
opens it, so the gateway that forwards it, the journal that keeps it and the brokers that
carry it see ciphertext only. The plaintext is msgpack, typed below.
"""

import base64
import binascii
from typing import Annotated, Final

import msgspec
from msgspec import Meta
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox

from edge.protocol.palm_template import TEMPLATE_BYTES

MAX_TEMPLATES: Final = 5
SEAL_OVERHEAD: Final = 48  # the ephemeral public key and the MAC a sealed box adds


class SealError(ValueError):
    """A sealed field that does not open, or opens to something other than palm templates."""


class PalmPayload(msgspec.Struct, forbid_unknown_fields=True, frozen=True, array_like=True):
    # Each one a template's bytes (edge/protocol/palm_template.py): one for entry or
    # deletion, several captures for enrolment.
    templates: Annotated[
        list[Annotated[bytes, Meta(min_length=1 + TEMPLATE_BYTES, max_length=1 + TEMPLATE_BYTES)]],
        Meta(min_length=1, max_length=MAX_TEMPLATES),
    ]
    token: str | None = None  # the shopper's app token, binding an enrolment to an account


_decoder = msgspec.msgpack.Decoder(PalmPayload)


def seal(payload: PalmPayload, upstream: PublicKey) -> str:
    return base64.b64encode(SealedBox(upstream).encrypt(msgspec.msgpack.encode(payload))).decode("ascii")


def unseal(sealed: str, key: PrivateKey) -> PalmPayload:
    try:
        plain = SealedBox(key).decrypt(base64.b64decode(sealed, validate=True))
    except (binascii.Error, CryptoError) as error:
        raise SealError(f"the sealed palm does not open with this key: {error}") from error
    try:
        return _decoder.decode(plain)
    except msgspec.ValidationError as error:
        raise SealError(f"the sealed palm holds no palm templates: {error}") from error
    except msgspec.DecodeError as error:
        raise SealError(f"the sealed palm is garbled: {error}") from error

"""The signed envelope: signature(64) || message, libsodium's combined format.

The signature covers the exact message bytes, so nothing is canonicalised.
"""

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from edge.protocol.errors import ProtocolError, Reason

SIGNATURE_BYTES = 64
MAX_MESSAGE_BYTES = 64 * 1024
MAX_PAYLOAD_BYTES = SIGNATURE_BYTES + MAX_MESSAGE_BYTES


def seal(key: SigningKey, message: bytes) -> bytes:
    if len(message) > MAX_MESSAGE_BYTES:
        raise ProtocolError(Reason.OVERSIZE, f"message is {len(message)} bytes, limit {MAX_MESSAGE_BYTES}")
    return bytes(key.sign(message))


def check_size(payload: bytes) -> None:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ProtocolError(Reason.OVERSIZE, f"payload is {len(payload)} bytes, limit {MAX_PAYLOAD_BYTES}")


def open_envelope(key: VerifyKey, payload: bytes) -> bytes:
    """Return the message bytes if the signature by `key` verifies."""
    check_size(payload)
    if len(payload) < SIGNATURE_BYTES:
        raise ProtocolError(Reason.BAD_SIGNATURE, f"payload of {len(payload)} bytes is shorter than a signature")
    try:
        return key.verify(payload)
    except BadSignatureError:
        raise ProtocolError(Reason.BAD_SIGNATURE, "signature does not verify") from None

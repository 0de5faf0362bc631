"""Sealed palm payloads: only upstream's private key opens them."""

import base64

import numpy as np
import pytest
from nacl.public import PrivateKey

from edge.protocol.messages import Palm
from edge.protocol.palm_template import GRID, PalmTemplate
from edge.protocol.sealed import MAX_TEMPLATES, SEAL_OVERHEAD, PalmPayload, SealError, seal, unseal

UPSTREAM = PrivateKey(bytes(range(1, 33)))


def template(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    parts = (rng.integers(0, 6, (GRID, GRID)).astype(np.uint8), rng.integers(0, 6, (GRID, GRID)).astype(np.uint8))
    return PalmTemplate.from_codes(*parts, rng.random((GRID, GRID)) < 0.9).to_bytes()


def test_a_sealed_template_opens_with_upstreams_key_only() -> None:
    payload = PalmPayload([template(1)])
    sealed = seal(payload, UPSTREAM.public_key)
    assert unseal(sealed, UPSTREAM) == payload
    assert len(base64.b64decode(sealed)) <= len(template(1)) + 8 + SEAL_OVERHEAD
    assert template(1) not in base64.b64decode(sealed)
    with pytest.raises(SealError, match="does not open"):
        unseal(sealed, PrivateKey(bytes(32)))


def test_sealing_twice_gives_different_ciphertexts() -> None:
    payload = PalmPayload([template(2)])
    assert seal(payload, UPSTREAM.public_key) != seal(payload, UPSTREAM.public_key)


def test_an_enrolment_of_the_most_captures_with_a_token_fits_a_palm_event() -> None:
    payload = PalmPayload([template(i) for i in range(MAX_TEMPLATES)], token="x" * 300)
    sealed = seal(payload, UPSTREAM.public_key)
    Palm(v=1, dev="gate-1", boot=1, seq=1, ts=0, req="r1", purpose="enroll", sealed=sealed, quality_pm=900, live_pm=900)
    assert unseal(sealed, UPSTREAM).token == "x" * 300


def test_a_tampered_box_does_not_open() -> None:
    raw = bytearray(base64.b64decode(seal(PalmPayload([template(3)]), UPSTREAM.public_key)))
    raw[60] ^= 1
    with pytest.raises(SealError, match="does not open"):
        unseal(base64.b64encode(bytes(raw)).decode(), UPSTREAM)


@pytest.mark.parametrize("plain", [[b"short"], [], [b"x" * 897] * (MAX_TEMPLATES + 1)])
def test_a_box_holding_anything_but_templates_is_refused(plain: list[bytes]) -> None:
    import msgspec
    from nacl.public import SealedBox

    sealed = base64.b64encode(SealedBox(UPSTREAM.public_key).encrypt(msgspec.msgpack.encode([plain, None]))).decode()
    with pytest.raises(SealError, match="no palm templates"):
        unseal(sealed, UPSTREAM)


def test_not_base64_is_refused() -> None:
    with pytest.raises(SealError):
        unseal("not base64!", UPSTREAM)

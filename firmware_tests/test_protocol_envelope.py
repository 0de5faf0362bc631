"""The signed envelope: signature(64) || message, Ed25519, size limits checked before verifying."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from edge.protocol.envelope import (
    MAX_MESSAGE_BYTES,
    MAX_PAYLOAD_BYTES,
    SIGNATURE_BYTES,
    check_size,
    open_envelope,
    seal,
)
from edge.protocol.errors import ProtocolError, Reason

KEY = SigningKey.generate()
MESSAGE = b'{"type":"state","v":1,"dev":"shelf-1","boot":1,"seq":0,"ts":5,"state":"online"}'


def refusal(payload: bytes, key: SigningKey = KEY) -> Reason:
    with pytest.raises(ProtocolError) as caught:
        open_envelope(key.verify_key, payload)
    return caught.value.reason


def test_limits() -> None:
    assert SIGNATURE_BYTES == 64
    assert MAX_MESSAGE_BYTES == 64 * 1024
    assert MAX_PAYLOAD_BYTES == MAX_MESSAGE_BYTES + SIGNATURE_BYTES


def test_seal_then_open_round_trip() -> None:
    payload = seal(KEY, MESSAGE)
    assert isinstance(payload, bytes)
    assert len(payload) == SIGNATURE_BYTES + len(MESSAGE)
    assert payload[SIGNATURE_BYTES:] == MESSAGE
    assert open_envelope(KEY.verify_key, payload) == MESSAGE


def test_envelope_is_libsodium_combined_format() -> None:
    payload = seal(KEY, MESSAGE)
    assert payload[:SIGNATURE_BYTES] == KEY.sign(MESSAGE).signature
    assert KEY.verify_key.verify(payload) == MESSAGE


def test_empty_message_round_trips() -> None:
    payload = seal(KEY, b"")
    assert len(payload) == SIGNATURE_BYTES
    assert open_envelope(KEY.verify_key, payload) == b""


def test_largest_message_seals_and_opens() -> None:
    message = b"x" * MAX_MESSAGE_BYTES
    payload = seal(KEY, message)
    assert len(payload) == MAX_PAYLOAD_BYTES
    check_size(payload)
    assert open_envelope(KEY.verify_key, payload) == message


def test_message_over_64_kib_refuses_to_seal() -> None:
    with pytest.raises(ProtocolError) as caught:
        seal(KEY, b"x" * (MAX_MESSAGE_BYTES + 1))
    assert caught.value.reason is Reason.OVERSIZE


def test_oversize_payload_refused_before_verifying() -> None:
    genuine = bytes(KEY.sign(b"x" * (MAX_MESSAGE_BYTES + 1)))
    assert KEY.verify_key.verify(genuine)
    assert len(genuine) == MAX_PAYLOAD_BYTES + 1
    assert refusal(genuine) is Reason.OVERSIZE
    with pytest.raises(ProtocolError) as caught:
        check_size(genuine)
    assert caught.value.reason is Reason.OVERSIZE


def test_oversize_garbage_is_oversize_not_bad_signature() -> None:
    assert refusal(b"\x00" * (MAX_PAYLOAD_BYTES + 1000)) is Reason.OVERSIZE


@pytest.mark.parametrize("size", [0, 1, 32, SIGNATURE_BYTES - 1])
def test_payload_shorter_than_a_signature(size: int) -> None:
    assert refusal(seal(KEY, MESSAGE)[:size]) is Reason.BAD_SIGNATURE


def test_payload_verified_with_another_key() -> None:
    other = SigningKey.generate()
    assert refusal(seal(KEY, MESSAGE), key=other) is Reason.BAD_SIGNATURE


def test_unsigned_message_is_bad_signature() -> None:
    assert refusal(MESSAGE) is Reason.BAD_SIGNATURE


def test_signature_of_another_message_is_bad_signature() -> None:
    other = seal(KEY, MESSAGE.replace(b'"seq":0', b'"seq":1'))
    assert refusal(other[:SIGNATURE_BYTES] + MESSAGE) is Reason.BAD_SIGNATURE


messages = st.binary(min_size=0, max_size=512)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(message=messages, data=st.data())
def test_any_bit_flip_is_rejected(message: bytes, data: st.DataObject) -> None:
    payload = bytearray(seal(KEY, message))
    bit = data.draw(st.integers(min_value=0, max_value=len(payload) * 8 - 1), label="bit")
    payload[bit // 8] ^= 1 << (bit % 8)
    assert refusal(bytes(payload)) is Reason.BAD_SIGNATURE


@settings(max_examples=100, deadline=None)
@given(message=messages, data=st.data())
def test_any_truncation_is_rejected(message: bytes, data: st.DataObject) -> None:
    payload = seal(KEY, message)
    keep = data.draw(st.integers(min_value=0, max_value=len(payload) - 1), label="keep")
    assert refusal(payload[:keep]) is Reason.BAD_SIGNATURE


@settings(max_examples=100, deadline=None)
@given(message=messages, tail=st.binary(min_size=1, max_size=64))
def test_any_extension_is_rejected(message: bytes, tail: bytes) -> None:
    assert refusal(seal(KEY, message) + tail) is Reason.BAD_SIGNATURE


@settings(max_examples=100, deadline=None)
@given(message=messages, head=st.binary(min_size=1, max_size=64))
def test_any_prefix_is_rejected(message: bytes, head: bytes) -> None:
    assert refusal(head + seal(KEY, message)) is Reason.BAD_SIGNATURE


@settings(max_examples=20, deadline=None)
@given(tail=st.binary(min_size=1, max_size=64))
def test_extension_past_the_limit_is_oversize(tail: bytes) -> None:
    payload = seal(KEY, b"y" * MAX_MESSAGE_BYTES)
    assert refusal(payload + tail) is Reason.OVERSIZE


@settings(max_examples=100, deadline=None)
@given(message=messages, signature=st.binary(min_size=SIGNATURE_BYTES, max_size=SIGNATURE_BYTES))
def test_any_replaced_signature_is_rejected(message: bytes, signature: bytes) -> None:
    payload = seal(KEY, message)
    if signature == payload[:SIGNATURE_BYTES]:
        signature = bytes(b ^ 0xFF for b in signature)
    assert refusal(signature + payload[SIGNATURE_BYTES:]) is Reason.BAD_SIGNATURE


@settings(max_examples=100, deadline=None)
@given(message=messages, data=st.data())
def test_any_changed_message_byte_is_rejected(message: bytes, data: st.DataObject) -> None:
    payload = bytearray(seal(KEY, message + b"!"))
    index = data.draw(st.integers(min_value=SIGNATURE_BYTES, max_value=len(payload) - 1), label="index")
    value = data.draw(st.integers(min_value=0, max_value=255).filter(lambda v: v != payload[index]), label="value")
    payload[index] = value
    assert refusal(bytes(payload)) is Reason.BAD_SIGNATURE


@settings(max_examples=100, deadline=None)
@given(message=messages)
def test_any_message_round_trips(message: bytes) -> None:
    assert open_envelope(KEY.verify_key, seal(KEY, message)) == message

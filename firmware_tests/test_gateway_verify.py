"""gateway/verify.py: the checks of DESIGN section 3, in their order, each with its Reason."""

from typing import Literal

import msgspec
import pytest
from nacl.signing import SigningKey

from edge.protocol.envelope import MAX_MESSAGE_BYTES, SIGNATURE_BYTES, seal
from edge.protocol.errors import ProtocolError, Reason
from edge.protocol.messages import Decision, Interaction, Message, State, Weight, encode_message
from edge.protocol.roles import Role
from edge.protocol.topics import Kind, cmd_topic, event_topic, state_topic, upstream_in_topic, upstream_out_topic
from gateway.registry import Device, Registry
from gateway.verify import UpstreamSender, Verifier, sender_of

StateValue = Literal["online", "stopped", "offline"]

STORE = "s1"
KEYS: dict[str, SigningKey] = {"shelf-1": SigningKey.generate(), "cam-1": SigningKey.generate()}


def make_registry() -> Registry:
    registry = Registry(STORE)
    registry.add(Device("shelf-1", Role.SHELF, KEYS["shelf-1"].verify_key, "-"))
    registry.add(Device("cam-1", Role.CAMERA, KEYS["cam-1"].verify_key, "-"))
    return registry


@pytest.fixture
def verifier() -> Verifier:
    return Verifier(make_registry())


def weight(dev: str = "shelf-1", seq: int = 1, boot: int = 1) -> Weight:
    return Weight(
        v=1,
        dev=dev,
        boot=boot,
        seq=seq,
        ts=1_700_000_000_000,
        shelf=dev,
        lane=2,
        t0=1_700_000_000_000,
        t1=1_700_000_000_400,
        delta_mg=-350_000,
        before_mg=900_000,
        after_mg=550_000,
        noise_mg=800,
    )


def interaction(dev: str = "cam-1", seq: int = 1) -> Interaction:
    return Interaction(
        v=1,
        dev=dev,
        boot=1,
        seq=seq,
        ts=1_700_000_000_000,
        shelf="sh-a",
        lanes=[1, 2],
        t0=1_700_000_000_000,
        t1=1_700_000_000_900,
        x_mm=1200,
        y_mm=-300,
        conf_pm=870,
        holding="item",
    )


def state(dev: str = "shelf-1", seq: int = 0, value: StateValue = "online") -> State:
    return State(v=1, dev=dev, boot=1, seq=seq, ts=1_700_000_000_000, state=value)


def signed(message: Message, key: SigningKey | None = None) -> bytes:
    return seal(key or KEYS[message.dev], encode_message(message))


def signed_raw(data: bytes, dev: str = "shelf-1") -> bytes:
    return bytes(KEYS[dev].sign(data))


def refusal(verifier: Verifier, topic: str, payload: bytes) -> Reason:
    with pytest.raises(ProtocolError) as caught:
        verifier.verify(topic, payload)
    return caught.value.reason


def test_valid_event_passes(verifier: Verifier) -> None:
    message = weight()
    payload = signed(message)
    verified = verifier.verify(event_topic(STORE, "shelf-1", "weight"), payload)
    assert verified.message == message
    assert verified.data == encode_message(message)
    assert verified.data == payload[SIGNATURE_BYTES:]
    assert verified.topic.kind is Kind.EVENT
    assert verified.topic.node == "shelf-1"
    assert verified.topic.name == "weight"


def test_valid_camera_event_passes(verifier: Verifier) -> None:
    verified = verifier.verify(event_topic(STORE, "cam-1", "interaction"), signed(interaction()))
    assert isinstance(verified.message, Interaction)
    assert verified.message.lanes == [1, 2]


def test_valid_state_passes(verifier: Verifier) -> None:
    verified = verifier.verify(state_topic(STORE, "shelf-1"), signed(state(value="offline")))
    assert isinstance(verified.message, State)
    assert verified.message.state == "offline"
    assert verified.topic.kind is Kind.STATE


@pytest.mark.parametrize(
    "topic",
    [
        "not/a/topic",
        "store/s1/node/shelf-1/event",
        "store/S1/node/shelf-1/event/weight",
        "store/s1/node/shelf-1/event/weight/extra",
        event_topic("other-store", "shelf-1", "weight"),
        state_topic("other-store", "shelf-1"),
        cmd_topic(STORE, "shelf-1", "open"),
        upstream_out_topic(STORE, "weight"),
        upstream_in_topic("other-store", "decision"),
    ],
)
def test_bad_topic(verifier: Verifier, topic: str) -> None:
    assert refusal(verifier, topic, signed(weight())) is Reason.BAD_TOPIC


def test_unknown_device(verifier: Verifier) -> None:
    stranger = SigningKey.generate()
    payload = signed(weight(dev="shelf-9"), stranger)
    assert refusal(verifier, event_topic(STORE, "shelf-9", "weight"), payload) is Reason.UNKNOWN_DEVICE


def test_unknown_device_state(verifier: Verifier) -> None:
    payload = signed(state(dev="shelf-9"), SigningKey.generate())
    assert refusal(verifier, state_topic(STORE, "shelf-9"), payload) is Reason.UNKNOWN_DEVICE


def test_role_forbidden_shelf_sending_interaction(verifier: Verifier) -> None:
    payload = signed(interaction(dev="shelf-1"))
    assert refusal(verifier, event_topic(STORE, "shelf-1", "interaction"), payload) is Reason.ROLE_FORBIDDEN


def test_role_forbidden_state_type_on_event_topic(verifier: Verifier) -> None:
    assert refusal(verifier, event_topic(STORE, "shelf-1", "state"), signed(state())) is Reason.ROLE_FORBIDDEN


def test_role_forbidden_device_sending_a_command_type(verifier: Verifier) -> None:
    assert refusal(verifier, event_topic(STORE, "shelf-1", "open"), signed(weight())) is Reason.ROLE_FORBIDDEN


def test_unknown_device_is_checked_before_role(verifier: Verifier) -> None:
    payload = signed(interaction(dev="shelf-9"), SigningKey.generate())
    assert refusal(verifier, event_topic(STORE, "shelf-9", "interaction"), payload) is Reason.UNKNOWN_DEVICE


def test_oversize_is_checked_before_the_signature(verifier: Verifier) -> None:
    payload = b"\0" * (SIGNATURE_BYTES + MAX_MESSAGE_BYTES + 1)
    assert refusal(verifier, event_topic(STORE, "shelf-1", "weight"), payload) is Reason.OVERSIZE


def test_oversize_even_when_validly_signed(verifier: Verifier) -> None:
    body = encode_message(weight())
    data = body[:-1] + b" " * (MAX_MESSAGE_BYTES + 1 - len(body)) + b"}"
    payload = signed_raw(data)
    assert len(payload) == SIGNATURE_BYTES + MAX_MESSAGE_BYTES + 1
    assert refusal(verifier, event_topic(STORE, "shelf-1", "weight"), payload) is Reason.OVERSIZE


def test_payload_at_the_limit_is_not_oversize(verifier: Verifier) -> None:
    payload = b"\0" * (SIGNATURE_BYTES + MAX_MESSAGE_BYTES)
    assert refusal(verifier, event_topic(STORE, "shelf-1", "weight"), payload) is Reason.BAD_SIGNATURE


def test_role_is_checked_before_size(verifier: Verifier) -> None:
    payload = b"\0" * (SIGNATURE_BYTES + MAX_MESSAGE_BYTES + 1)
    assert refusal(verifier, event_topic(STORE, "shelf-1", "interaction"), payload) is Reason.ROLE_FORBIDDEN


def test_forged_by_another_key(verifier: Verifier) -> None:
    payload = signed(weight(), SigningKey.generate())
    assert refusal(verifier, event_topic(STORE, "shelf-1", "weight"), payload) is Reason.BAD_SIGNATURE


def test_signed_by_another_registered_device(verifier: Verifier) -> None:
    payload = signed(weight(dev="shelf-1"), KEYS["cam-1"])
    assert refusal(verifier, event_topic(STORE, "shelf-1", "weight"), payload) is Reason.BAD_SIGNATURE


@pytest.mark.parametrize("index", [0, 63, 64, -1])
def test_tampered_byte(verifier: Verifier, index: int) -> None:
    payload = bytearray(signed(weight()))
    payload[index] ^= 0x01
    assert refusal(verifier, event_topic(STORE, "shelf-1", "weight"), bytes(payload)) is Reason.BAD_SIGNATURE


def test_payload_shorter_than_a_signature(verifier: Verifier) -> None:
    assert refusal(verifier, event_topic(STORE, "shelf-1", "weight"), b"short") is Reason.BAD_SIGNATURE


def test_bad_signature_is_checked_before_decoding(verifier: Verifier) -> None:
    payload = bytes(SigningKey.generate().sign(b"not json"))
    assert refusal(verifier, event_topic(STORE, "shelf-1", "weight"), payload) is Reason.BAD_SIGNATURE


def _weight_dict(**changes: object) -> dict[str, object]:
    body = msgspec.json.decode(encode_message(weight()))
    assert isinstance(body, dict)
    body.update(changes)
    return body


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"{not json", Reason.NOT_JSON),
        (b"[1, 2, 3]", Reason.NOT_OBJECT),
        (msgspec.json.encode(_weight_dict(delta_mg=-350.5)), Reason.FLOAT),
        (msgspec.json.encode({k: v for k, v in _weight_dict().items() if k != "noise_mg"}), Reason.MISSING_FIELD),
        (msgspec.json.encode(_weight_dict(extra=1)), Reason.UNKNOWN_FIELD),
        (msgspec.json.encode(_weight_dict(lane="2")), Reason.WRONG_TYPE),
        (msgspec.json.encode(_weight_dict(lane=5000)), Reason.INVALID_VALUE),
        (msgspec.json.encode(_weight_dict(v=2)), Reason.INVALID_VALUE),
        (msgspec.json.encode(_weight_dict(type="sneeze")), Reason.UNKNOWN_TYPE),
    ],
)
def test_decode_refusals(verifier: Verifier, data: bytes, reason: Reason) -> None:
    assert refusal(verifier, event_topic(STORE, "shelf-1", "weight"), signed_raw(data)) is reason


def test_header_mismatch_dev_differs_from_topic_node(verifier: Verifier) -> None:
    payload = signed(weight(dev="other-shelf"), KEYS["shelf-1"])
    assert refusal(verifier, event_topic(STORE, "shelf-1", "weight"), payload) is Reason.HEADER_MISMATCH


def test_header_mismatch_dev_is_another_registered_device(verifier: Verifier) -> None:
    payload = signed(weight(dev="cam-1"), KEYS["shelf-1"])
    assert refusal(verifier, event_topic(STORE, "shelf-1", "weight"), payload) is Reason.HEADER_MISMATCH


def test_header_mismatch_type_differs_from_topic(verifier: Verifier) -> None:
    assert refusal(verifier, event_topic(STORE, "shelf-1", "telemetry"), signed(weight())) is Reason.HEADER_MISMATCH


def test_header_mismatch_event_on_state_topic(verifier: Verifier) -> None:
    assert refusal(verifier, state_topic(STORE, "shelf-1"), signed(weight())) is Reason.HEADER_MISMATCH


def test_header_mismatch_event_with_seq_zero(verifier: Verifier) -> None:
    assert refusal(verifier, event_topic(STORE, "shelf-1", "weight"), signed(weight(seq=0))) is Reason.HEADER_MISMATCH


def test_header_mismatch_state_with_positive_seq(verifier: Verifier) -> None:
    assert refusal(verifier, state_topic(STORE, "shelf-1"), signed(state(seq=3))) is Reason.HEADER_MISMATCH


def test_refusal_carries_a_detail(verifier: Verifier) -> None:
    with pytest.raises(ProtocolError) as caught:
        verifier.verify(event_topic(STORE, "shelf-1", "interaction"), signed(interaction(dev="shelf-1")))
    assert "shelf-1" in caught.value.detail


@pytest.mark.parametrize(
    ("topic", "sender"),
    [
        (event_topic(STORE, "shelf-1", "weight"), "shelf-1"),
        (state_topic(STORE, "cam-1"), "cam-1"),
        (event_topic("elsewhere", "n-7", "weight"), "n-7"),
        (cmd_topic(STORE, "gate-2", "open"), "gate-2"),
        (upstream_in_topic(STORE, "decision"), "upstream"),
        (upstream_out_topic(STORE, "receipt"), "-"),
        ("garbage", "-"),
        ("store/s1/node/UPPER/state", "-"),
        ("", "-"),
    ],
)
def test_sender_of(topic: str, sender: str) -> None:
    assert sender_of(topic) == sender


UPSTREAM = SigningKey.generate()


def decision(dev: str = "upstream", seq: int = 1) -> Decision:
    return Decision(
        v=1, dev=dev, boot=1, seq=seq, ts=1_700_000_000_000, req="r-1", result="match", account="acct-1", score_pm=810
    )


def test_upstreams_decision_is_verified_with_its_key_and_id() -> None:
    verifier = Verifier(make_registry(), UpstreamSender("upstream", UPSTREAM.verify_key))
    topic = upstream_in_topic(STORE, "decision")
    verified = verifier.verify(topic, signed(decision(), UPSTREAM))
    assert verified.message == decision() and verified.topic.kind is Kind.UPSTREAM_IN
    assert sender_of(topic) == "upstream"
    assert refusal(verifier, topic, signed(decision(), KEYS["shelf-1"])) is Reason.BAD_SIGNATURE
    assert refusal(verifier, topic, signed(decision(dev="imposter"), UPSTREAM)) is Reason.HEADER_MISMATCH
    assert refusal(verifier, topic, signed(decision(seq=0), UPSTREAM)) is Reason.HEADER_MISMATCH
    assert refusal(verifier, upstream_in_topic(STORE, "weight"), signed(weight(), UPSTREAM)) is Reason.ROLE_FORBIDDEN
    assert refusal(Verifier(make_registry()), topic, signed(decision(), UPSTREAM)) is Reason.UNKNOWN_DEVICE

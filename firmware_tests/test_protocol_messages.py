"""Wire protocol v1 messages: round trips of every type and strict decoding with precise reasons."""

import json
from typing import Any

import msgspec
import pytest

from edge.protocol.errors import ProtocolError, Reason
from edge.protocol.messages import (
    COMMAND_TYPES,
    MESSAGE_TYPES,
    Alarm,
    BootAnswer,
    Decision,
    Deny,
    Health,
    Hello,
    Interaction,
    Message,
    Open,
    Palm,
    Passage,
    Presence,
    Qr,
    Receipt,
    State,
    Telemetry,
    Weight,
    decode_message,
    encode_message,
)

HEADER: dict[str, Any] = {"v": 1, "dev": "shelf-1", "boot": 3, "seq": 7, "ts": 1_700_000_000_000}

SAMPLES: dict[str, Message] = {
    "weight": Weight(
        **HEADER,
        shelf="s1",
        lane=4,
        t0=1_700_000_000_000,
        t1=1_700_000_000_450,
        delta_mg=-350_000,
        before_mg=1_200_000,
        after_mg=850_000,
        noise_mg=900,
    ),
    "telemetry": Telemetry(**HEADER, shelf="s1", lanes=[(0, 1_000_000), (1, -20), (1023, 0)]),
    "interaction": Interaction(
        **HEADER,
        shelf="s1",
        lanes=[2, 3],
        t0=1,
        t1=2,
        x_mm=-1500,
        y_mm=2300,
        conf_pm=870,
        holding="item",
    ),
    "presence": Presence(**HEADER, people=[(100, -200, 950), (0, 0, 0)]),
    "passage": Passage(**HEADER, gate="gate-a", dir="in", t=1_700_000_000_100, grant="req_1", x_mm=10, y_mm=20),
    "alarm": Alarm(**HEADER, gate="gate-a", kind="door_held", t=1_700_000_000_100),
    "palm": Palm(**HEADER, req="req-9", purpose="enroll", sealed="AAEC/w+a==", quality_pm=800, live_pm=990),
    "qr": Qr(**HEADER, req="req-10", token="tok.en_=-AZ09"),
    "health": Health(**HEADER, uptime_s=3600, spool=12, temp_c10=482, counters={"cmd_accepted": 3, "x-y": -1}),
    "state": State(**HEADER, state="offline"),
    "open": Open(**HEADER, node="gate-1", req="r1", session="sess-1", ttl_ms=5000),
    "deny": Deny(**HEADER, node="gate-1", req="r2", reason="no-account", ttl_ms=600_000),
    "hello": Hello(**HEADER, nonce="Zm9vYmFyYmF6cXV4cXV1eA"),
    "boot": BootAnswer(**HEADER, node="shelf-1", nonce="Zm9vYmFyYmF6cXV4cXV1eA", last_boot=7),
    "decision": Decision(**HEADER, req="r3", result="match", account=None, score_pm=1000),
    "receipt": Receipt(
        **HEADER,
        session="sess-1",
        account="acct_7",
        lines=[("SKU.1-a", 2), ("sku2", -1)],
        opened_ms=1,
        closed_ms=2,
        review=True,
    ),
}

STATE_FIELDS: dict[str, Any] = {"type": "state", **HEADER, "state": "online"}


def raw(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields).encode()


def reason_of(data: bytes) -> Reason:
    with pytest.raises(ProtocolError) as caught:
        decode_message(data)
    return caught.value.reason


def test_samples_cover_every_message_type() -> None:
    assert set(SAMPLES) == set(MESSAGE_TYPES)
    assert set(MESSAGE_TYPES) >= COMMAND_TYPES


@pytest.mark.parametrize("kind", sorted(MESSAGE_TYPES))
def test_every_type_round_trips(kind: str) -> None:
    message = SAMPLES[kind]
    assert isinstance(message, MESSAGE_TYPES[kind])
    data = encode_message(message)
    loose = json.loads(data)
    assert loose["type"] == kind
    assert {k: loose[k] for k in HEADER} == HEADER
    decoded = decode_message(data)
    assert type(decoded) is MESSAGE_TYPES[kind]
    assert decoded == message
    assert decoded.type == kind
    assert encode_message(decoded) == data


def test_health_counters_default_to_empty() -> None:
    fields = {"type": "health", **HEADER, "uptime_s": 1, "spool": 0, "temp_c10": -32768}
    decoded = decode_message(raw(fields))
    assert isinstance(decoded, Health)
    assert decoded.counters == {}


def test_largest_safe_integer_is_accepted() -> None:
    decoded = decode_message(raw({**STATE_FIELDS, "ts": 2**53}))
    assert decoded.ts == 2**53


@pytest.mark.parametrize(
    "data",
    [b"", b"{", b"not json", b'{"type": "state",}', b"\xff\xfe\x00", b'{"v": NaN}'],
    ids=["empty", "truncated", "text", "trailing-comma", "invalid-utf8", "nan"],
)
def test_not_json(data: bytes) -> None:
    assert reason_of(data) is Reason.NOT_JSON


def test_invalid_utf8_inside_a_string_is_not_json() -> None:
    data = raw(STATE_FIELDS).replace(b'"online"', b'"onl\xffine"')
    assert reason_of(data) is Reason.NOT_JSON


@pytest.mark.parametrize("data", [b"[]", b"[1, 2]", b"1", b'"state"', b"null", b"true"])
def test_json_that_is_not_an_object(data: bytes) -> None:
    assert reason_of(data) is Reason.NOT_OBJECT


@pytest.mark.parametrize("kind", ["nope", "Weight", "cmd", "", "event"])
def test_unknown_type(kind: str) -> None:
    assert reason_of(raw({**STATE_FIELDS, "type": kind})) is Reason.UNKNOWN_TYPE


def test_missing_type_is_a_missing_field() -> None:
    fields = dict(STATE_FIELDS)
    del fields["type"]
    with pytest.raises(ProtocolError) as caught:
        decode_message(raw(fields))
    assert caught.value.reason is Reason.MISSING_FIELD
    assert "type" in caught.value.detail


@pytest.mark.parametrize("field", ["v", "dev", "boot", "seq", "ts", "state"])
def test_missing_field(field: str) -> None:
    fields = dict(STATE_FIELDS)
    del fields[field]
    with pytest.raises(ProtocolError) as caught:
        decode_message(raw(fields))
    assert caught.value.reason is Reason.MISSING_FIELD
    assert field in caught.value.detail


def test_missing_body_field_of_a_command() -> None:
    fields = json.loads(encode_message(SAMPLES["open"]))
    del fields["ttl_ms"]
    assert reason_of(raw(fields)) is Reason.MISSING_FIELD


@pytest.mark.parametrize("extra", [{"x": 1}, {"extra": "y"}, {"Type": "state"}])
def test_unknown_extra_field(extra: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_message(raw({**STATE_FIELDS, **extra}))
    assert caught.value.reason is Reason.UNKNOWN_FIELD
    assert next(iter(extra)) in caught.value.detail


def test_field_of_another_type_is_unknown() -> None:
    assert reason_of(raw({**STATE_FIELDS, "ttl_ms": 5})) is Reason.UNKNOWN_FIELD


@pytest.mark.parametrize(
    "change",
    [{"boot": "1"}, {"seq": True}, {"ts": None}, {"dev": 5}, {"state": 1}, {"boot": [1]}, {"ts": {"a": 1}}],
    ids=["str-for-int", "bool-for-int", "null-for-int", "int-for-str", "int-for-literal", "list", "object"],
)
def test_wrong_type(change: dict[str, Any]) -> None:
    assert reason_of(raw({**STATE_FIELDS, **change})) is Reason.WRONG_TYPE


def test_wrong_type_in_a_list_element() -> None:
    fields = json.loads(encode_message(SAMPLES["telemetry"]))
    fields["lanes"] = [[1, "2"]]
    assert reason_of(raw(fields)) is Reason.WRONG_TYPE


@pytest.mark.parametrize(
    "data",
    [
        raw({**STATE_FIELDS, "boot": 1.0}),
        raw({**STATE_FIELDS, "ts": 1.5}),
        raw(STATE_FIELDS).replace(b'"seq": 7', b'"seq": 7e0'),
    ],
    ids=["integral-float", "fraction", "exponent"],
)
def test_float_in_a_top_level_field(data: bytes) -> None:
    assert reason_of(data) is Reason.FLOAT


def test_float_nested_in_a_list() -> None:
    fields = json.loads(encode_message(SAMPLES["telemetry"]))
    fields["lanes"] = [[0, 1], [1, 2.5]]
    with pytest.raises(ProtocolError) as caught:
        decode_message(raw(fields))
    assert caught.value.reason is Reason.FLOAT
    assert "lanes" in caught.value.detail


def test_float_nested_in_an_object() -> None:
    fields = json.loads(encode_message(SAMPLES["health"]))
    fields["counters"] = {"a": 0.5}
    assert reason_of(raw(fields)) is Reason.FLOAT


def test_float_wins_over_other_faults() -> None:
    fields = {"type": "nope", "x": 0.1}
    assert reason_of(raw(fields)) is Reason.FLOAT


@pytest.mark.parametrize(
    "change",
    [
        {"v": 2},
        {"v": 0},
        {"dev": "Shelf-1"},
        {"dev": "shelf_1"},
        {"dev": ""},
        {"dev": "a" * 65},
        {"boot": -1},
        {"boot": 2**53 + 1},
        {"ts": 2**64},
        {"state": "asleep"},
    ],
    ids=[
        "v2",
        "v0",
        "dev-uppercase",
        "dev-underscore",
        "dev-empty",
        "dev-long",
        "negative",
        "beyond-2-53",
        "beyond-2-64",
        "bad-literal",
    ],
)
def test_invalid_value_in_header(change: dict[str, Any]) -> None:
    assert reason_of(raw({**STATE_FIELDS, **change})) is Reason.INVALID_VALUE


def test_dev_with_a_trailing_newline_is_invalid() -> None:
    assert reason_of(raw({**STATE_FIELDS, "dev": "shelf-1\n"})) is Reason.INVALID_VALUE


@pytest.mark.parametrize(
    ("kind", "change"),
    [
        ("decision", {"score_pm": 1001}),
        ("interaction", {"conf_pm": -1}),
        ("presence", {"people": [[0, 0, 1001]]}),
        ("telemetry", {"lanes": [[1024, 0]]}),
        ("telemetry", {"lanes": [[1, 2, 3]]}),
        ("weight", {"delta_mg": -(2**53) - 1}),
        ("open", {"ttl_ms": 0}),
        ("open", {"ttl_ms": 600_001}),
        ("palm", {"sealed": "not base64!"}),
        ("receipt", {"lines": [["sku", 10_001]]}),
    ],
)
def test_invalid_value_in_body(kind: str, change: dict[str, Any]) -> None:
    fields = json.loads(encode_message(SAMPLES[kind]))
    assert reason_of(raw({**fields, **change})) is Reason.INVALID_VALUE


def test_reasons_are_distinct_per_failure() -> None:
    fields = dict(STATE_FIELDS)
    del fields["state"]
    reasons = [
        reason_of(b"{"),
        reason_of(b"[]"),
        reason_of(raw({**STATE_FIELDS, "type": "nope"})),
        reason_of(raw(fields)),
        reason_of(raw({**STATE_FIELDS, "x": 1})),
        reason_of(raw({**STATE_FIELDS, "boot": "1"})),
        reason_of(raw({**STATE_FIELDS, "boot": 1.5})),
        reason_of(raw({**STATE_FIELDS, "v": 2})),
    ]
    assert len(set(reasons)) == len(reasons)


def test_decoded_messages_are_frozen() -> None:
    decoded = decode_message(encode_message(SAMPLES["state"]))
    with pytest.raises(AttributeError):
        decoded.seq = 8  # type: ignore[misc]
    assert msgspec.structs.replace(decoded, seq=8).seq == 8

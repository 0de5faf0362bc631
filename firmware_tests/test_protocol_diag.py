"""The diagnostics console's line protocol: requests, answers and records."""

import pytest

from edge.protocol.diag import (
    DiagError,
    ErrorCode,
    Reply,
    data_line,
    decode_record,
    encode_record,
    encode_request,
    err_line,
    ok_line,
    parse_reply,
    parse_request,
    tag_of,
)


def test_a_tagged_checked_request_round_trips() -> None:
    line = encode_request("@0a1b2c3d", ["calibrate", "2", "500"])
    request = parse_request(line.rstrip(b"\n"))
    assert request.tag == "@0a1b2c3d"
    assert request.words == ("calibrate", "2", "500")


def test_a_typed_request_needs_neither_tag_nor_checksum() -> None:
    request = parse_request(b"  read  ")
    assert request.tag == "@" and request.words == ("read",)
    assert parse_request(b"").words == ()


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (encode_request("@1", ["tare", "1"]).rstrip(b"\n").replace(b"tare 1", b"tare 7"), ErrorCode.BAD_CRC),
        (b"status*0000", ErrorCode.BAD_CRC),
        (b"st\xffatus", ErrorCode.BAD_LINE),
        (b"status\x00", ErrorCode.BAD_LINE),
        (b"@TOOLONGTAG status", ErrorCode.BAD_LINE),
        (b"@Ab status", ErrorCode.BAD_LINE),
        (b"@ab tare 1", ErrorCode.BAD_CRC),  # noise took the checksum's `*`: not run unchecked
    ],
)
def test_bad_requests_are_refused_with_a_reason(line: bytes, code: ErrorCode) -> None:
    with pytest.raises(DiagError) as refused:
        parse_request(line)
    assert refused.value.code is code


def test_a_refused_line_is_answered_under_its_tag_when_it_can_be_read() -> None:
    assert tag_of(b"@ab12 tare 1*00000000") == "@ab12"
    assert tag_of(b"\xff\xfe garbage") == "@"


def test_requests_too_long_or_with_bad_tags_are_not_made() -> None:
    with pytest.raises(ValueError):
        encode_request("@x", ["a" * 300])
    with pytest.raises(ValueError):
        encode_request("x", ["status"])


def test_answers_round_trip() -> None:
    record = {"lane": 0, "weight_mg": -1200, "message": 'lanes [3] are "not" calibrated', "empty": ""}
    lines = [data_line("@ab", record), ok_line("@ab"), err_line("@", ErrorCode.NEEDS_SERVICE, "service PIN first")]
    parsed = [parse_reply(line.rstrip(b"\n")) for line in lines]
    as_text = {key: str(value) for key, value in record.items()}
    assert parsed == [
        Reply("@ab", "data", as_text),
        Reply("@ab", "ok"),
        Reply("@", "err", code="needs_service", text="service PIN first"),
    ]


def test_an_answer_line_with_any_byte_changed_is_not_read() -> None:
    line = data_line("@ab", {"lane": 1, "raw": 123456}).rstrip(b"\n")
    for i in range(len(line)):
        corrupted = bytearray(line)
        corrupted[i] = (corrupted[i] + 1) % 128
        assert parse_reply(bytes(corrupted)) is None


def test_records_are_printable_ascii_whatever_they_are_given() -> None:
    text = encode_record({"message": "temp 48°C\nnext line"})
    assert text.isascii() and "\n" not in text
    assert decode_record(text) == {"message": "temp 48?C?next line"}
    with pytest.raises(ValueError):
        encode_record({"Bad Key": 1})
    with pytest.raises(ValueError):
        decode_record("no-equals-sign")

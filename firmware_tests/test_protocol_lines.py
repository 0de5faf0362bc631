"""Checked lines and the line splitter both serial protocols use."""

from edge.protocol.lines import LineBuffer, checked_body, seal_line


def test_a_sealed_line_checks_out_and_any_changed_byte_does_not() -> None:
    line = seal_line(b"@ab12 - lane=0 raw=123")
    assert line.endswith(b"\n")
    assert checked_body(line[:-1]) == b"@ab12 - lane=0 raw=123"
    for i in range(len(line) - 1):
        corrupted = bytearray(line[:-1])
        corrupted[i] ^= 0x04
        assert checked_body(bytes(corrupted)) is None, f"a flipped bit at {i} went unnoticed"


def test_lines_without_a_checksum_or_with_a_short_one_do_not_check_out() -> None:
    assert checked_body(b"status") is None
    assert checked_body(b"status*1234") is None
    assert checked_body(b"status*zzzzzzzz") is None
    body, crc = seal_line(b"tare 1").rstrip(b"\n").split(b"*")
    assert crc != crc.upper() and checked_body(body + b"*" + crc.upper()) is None, "lower-case hex only"
    assert checked_body(b"status*+0000000") is None


def test_lines_split_anywhere_come_out_whole_and_carriage_returns_go() -> None:
    buffer = LineBuffer(64)
    stream = b"one\r\ntwo\nthree\n"
    out = [line for byte in stream for line in buffer.feed(bytes([byte]))]
    assert out == [b"one", b"two", b"three"]


def test_an_overlong_run_is_dropped_to_its_newline_and_counted_once() -> None:
    buffer = LineBuffer(16)
    assert buffer.feed(b"x" * 40) == []
    assert buffer.feed(b"y" * 40) == []
    assert buffer.feed(b"tail\nnext\n") == [b"next"]
    assert buffer.overflowed == 1
    assert buffer.feed(b"z" * 17 + b"\nok\n") == [b"ok"]
    assert buffer.overflowed == 2


def test_clear_forgets_a_partial_line() -> None:
    buffer = LineBuffer(64)
    buffer.feed(b"half a comm")
    buffer.clear()
    assert buffer.feed(b"status\n") == [b"status"]

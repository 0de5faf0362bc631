"""The board's line protocol: frames, replies, garbage, truncation, resynchronisation, clocks."""

import random

import pytest

from edge.shelf.mcu_protocol import (
    TICKS_PERIOD,
    BoardClock,
    BoardFrame,
    BoardReply,
    FrameDecoder,
    encode_frame,
    encode_reply,
)


def test_frames_and_replies_round_trip() -> None:
    decoder = FrameDecoder()
    data = encode_frame(7, 123_456, [8_000, None, -42, 0]) + encode_reply("id rp2040 e6614c fw 1 channels 4")
    assert decoder.feed(data) == [
        BoardFrame(7, 123_456, (8_000, None, -42, 0)),
        BoardReply("id rp2040 e6614c fw 1 channels 4"),
    ]
    assert decoder.garbage == 0


def test_a_stream_split_anywhere_decodes_the_same() -> None:
    stream = b"".join(encode_frame(n, n * 100, [n, -n]) for n in range(50))
    rng = random.Random(3)
    decoder = FrameDecoder()
    out = []
    i = 0
    while i < len(stream):
        step = rng.randint(1, 40)
        out += decoder.feed(stream[i : i + step])
        i += step
    assert [f.seq for f in out if isinstance(f, BoardFrame)] == list(range(50))


@pytest.mark.parametrize(
    "bad",
    [
        b"\x00\xffgarbage\n",
        b"S,1,2,3\n",  # no checksum
        encode_frame(1, 2, [3])[:-5] + b"0000\n",  # wrong checksum
        encode_frame(1, 2, [3]).replace(b",3", b",4"),  # corrupted after sealing
        encode_frame(1, 2, [1 << 23]),  # not a 24-bit count
        b"X," + encode_frame(1, 2, [3])[2:],
    ],
)
def test_bad_lines_are_dropped_counted_and_the_next_frame_still_decodes(bad: bytes) -> None:
    decoder = FrameDecoder()
    out = decoder.feed(bad + encode_frame(9, 900, [5]))
    assert out == [BoardFrame(9, 900, (5,))]
    assert decoder.garbage == 1


def test_a_truncated_frame_is_dropped_at_the_next_newline() -> None:
    decoder = FrameDecoder()
    whole = encode_frame(1, 100, [1, 2, 3])
    assert decoder.feed(whole[:10]) == []
    assert decoder.feed(b"\n" + encode_frame(2, 200, [4])) == [BoardFrame(2, 200, (4,))]
    assert decoder.garbage == 1


def test_endless_noise_without_newlines_is_dropped_not_hoarded() -> None:
    decoder = FrameDecoder()
    decoder.feed(b"x" * 5_000)
    assert decoder.garbage >= 1
    assert decoder.feed(b"\n" + encode_frame(3, 300, [1])) == [BoardFrame(3, 300, (1,))]


def test_board_time_unwraps_and_follows_the_fastest_transit() -> None:
    clock = BoardClock()
    assert clock.to_wall(TICKS_PERIOD - 50, 1_000_050) == 1_000_050
    assert clock.to_wall(50, 1_000_160) == 1_000_150, "the board's ticks wrapped"
    assert clock.to_wall(150, 1_000_400) == 1_000_250, "a late frame keeps its board time"

"""The RP2040 shelf board's serial line protocol, as the Pi reads it. Pure.

The board sends one ASCII line per sample period, and one line per answer:

    S,<seq>,<board_ms>,<count or ->,...*<crc32, 8 hex digits>\\n    a frame of raw counts
    #<text>*<crc32>\\n                                             an answer to a command

`seq` counts frames modulo 65536, so drops show; `board_ms` is the board's own millisecond
clock (MicroPython's ticks_ms, which wraps at 2**30); `-` marks a channel whose read the
board rejected. Every line is a checked line (edge/protocol/lines.py): what does not check
out is dropped and counted.

Commands to the board are plain lines: `id`, `rate 10` or `rate 80`, `channels`, `selftest`.
"""

from dataclasses import dataclass, field
from typing import NamedTuple

from edge.protocol.lines import LineBuffer, checked_body, seal_line

MAX_LINE = 512
TICKS_PERIOD = 1 << 30


class BoardFrame(NamedTuple):
    seq: int
    board_ms: int
    counts: tuple[int | None, ...]


class BoardReply(NamedTuple):
    text: str


def encode_frame(seq: int, board_ms: int, counts: list[int | None]) -> bytes:
    fields = [b"S", b"%d" % (seq % 65536), b"%d" % (board_ms % TICKS_PERIOD)]
    fields += [b"-" if c is None else b"%d" % c for c in counts]
    return seal_line(b",".join(fields))


def encode_reply(text: str) -> bytes:
    return seal_line(b"#" + text.encode())


@dataclass
class FrameDecoder:
    """Bytes in, frames and replies out; what does not check out is dropped and counted."""

    _lines: LineBuffer = field(default_factory=lambda: LineBuffer(MAX_LINE))
    _unparsed: int = 0

    @property
    def garbage(self) -> int:
        return self._unparsed + self._lines.overflowed

    def feed(self, data: bytes) -> list[BoardFrame | BoardReply]:
        out: list[BoardFrame | BoardReply] = []
        for line in self._lines.feed(data):
            parsed = self._parse(line)
            if parsed is None:
                self._unparsed += 1
            else:
                out.append(parsed)
        return out

    @staticmethod
    def _parse(line: bytes) -> BoardFrame | BoardReply | None:
        body = checked_body(line)
        if body is None:
            return None
        try:
            if body.startswith(b"#"):
                return BoardReply(body[1:].decode())
            parts = body.split(b",")
            if parts[0] != b"S" or len(parts) < 4:
                return None
            counts = tuple(None if p == b"-" else int(p) for p in parts[3:])
            if any(c is not None and not -(1 << 23) <= c < (1 << 23) for c in counts):
                return None
            return BoardFrame(int(parts[1]), int(parts[2]), counts)
        except (ValueError, UnicodeDecodeError):
            return None


@dataclass
class BoardClock:
    """Board milliseconds, unwrapped, mapped onto the node's wall clock.

    The offset is the smallest (receive time - board time) seen over a window, the board's
    clock offset plus the shortest USB transit, so a late frame never drags time backwards.
    """

    window: int = 600
    _last: int | None = None
    _wraps: int = 0
    _offsets: list[int] = field(default_factory=list)

    def to_wall(self, board_ms: int, received_wall_ms: int) -> int:
        if self._last is not None and board_ms < self._last - TICKS_PERIOD // 2:
            self._wraps += 1
        self._last = board_ms
        unwrapped = board_ms + self._wraps * TICKS_PERIOD
        self._offsets.append(received_wall_ms - unwrapped)
        if len(self._offsets) > self.window:
            del self._offsets[0]
        return unwrapped + min(self._offsets)

"""Checked text lines on a serial link, shared by the shelf board's stream and the nodes'
diagnostics console. Pure.

A checked line is `<body>*<crc32 of body, 8 lower-case hex digits>\\n` (binascii.crc32, as
MicroPython has it). Lines make resynchronisation after noise free: whatever up to the
next newline does not check out is dropped, and counted by whoever reads.
"""

import binascii
import re
from dataclasses import dataclass, field

_CRC = re.compile(rb"[0-9a-f]{8}")


def seal_line(body: bytes) -> bytes:
    return body + b"*%08x\n" % binascii.crc32(body)


def checked_body(line: bytes) -> bytes | None:
    """The body of a checked line (without its newline), or None if it does not check out."""
    body, star, crc = line.rpartition(b"*")
    if not star or not _CRC.fullmatch(crc) or int(crc, 16) != binascii.crc32(body):
        return None
    return body


@dataclass
class LineBuffer:
    """Bytes in, whole lines out (without the newline or a carriage return before it). A run
    of more than `max_line` bytes without a newline is not a line of ours: it is dropped,
    up to and including the newline that finally ends it, and counted as overflowed."""

    max_line: int
    overflowed: int = 0
    _buffer: bytearray = field(default_factory=bytearray)
    _skipping: bool = False

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        lines: list[bytes] = []
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > self.max_line:
                    self._buffer.clear()
                    if not self._skipping:
                        self.overflowed += 1
                    self._skipping = True
                return lines
            line = bytes(self._buffer[:end]).rstrip(b"\r")
            del self._buffer[: end + 1]
            if self._skipping or len(line) > self.max_line:
                if not self._skipping:
                    self.overflowed += 1
                self._skipping = False
                continue
            lines.append(line)

    def clear(self) -> None:
        """Forget a partial line (the link was lost mid-line)."""
        self._buffer.clear()
        self._skipping = False

"""Opening a serial port and finding out what answers on it: a node's console, which is
silent until asked, or a shelf board, which streams frames."""

import errno
from typing import Protocol

import serial

from edge.diag.board import BoardLink
from edge.diag.link import ConsoleLink
from edge.protocol.diag import Record
from edge.shelf.mcu_protocol import FrameDecoder

LISTEN_S = 0.4  # a board streams at 10 frames a second at least


class PortError(Exception):
    """The port cannot be used; the message says what to do."""


class Target(Protocol):
    kind: str  # node | board

    def ask(self, words: list[str]) -> list[Record]: ...


def open_port(path: str, baud: int) -> serial.Serial:
    try:
        return serial.Serial(path, baud, timeout=0.05)
    except (serial.SerialException, OSError) as error:
        code = getattr(error, "errno", None)
        if code == errno.ENOENT:
            raise PortError(f"no serial port {path}: is the adapter plugged in? (ls /dev/serial/by-id)") from None
        if code in (errno.EACCES, errno.EPERM):
            raise PortError(
                f"no permission to open {path}: join the dialout group (sudo adduser $USER dialout, log in again)"
            ) from None
        raise PortError(f"cannot open {path}: {error}") from None


def connect(path: str, baud: int, timeout_s: float) -> Target:
    port = open_port(path, baud)
    decoder = FrameDecoder()
    port.reset_input_buffer()
    port.timeout = LISTEN_S
    streams = bool(decoder.feed(port.read(4096)))
    port.timeout = 0.05
    return BoardLink(port, timeout_s, decoder) if streams else ConsoleLink(port, timeout_s)

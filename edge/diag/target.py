"""Opening a serial port and finding out what answers on it: a node's console, which is
silent until asked, or a shelf board, which streams frames; and finding it again when the
port comes back after its USB adapter was pulled."""

import contextlib
import errno
import threading
import time
from typing import Protocol

import serial

from edge.diag.board import BoardLink
from edge.diag.link import ConsoleLink
from edge.protocol.diag import Record
from edge.shelf.mcu_protocol import FrameDecoder

LISTEN_S = 0.4  # a board streams at 10 frames a second at least
RETURN_POLL_S = 0.5  # how often a pulled port is looked for again


class PortError(Exception):
    """The port cannot be used; the message says what to do."""


class PortLost(PortError):
    """The port failed under a request: its USB adapter was pulled, or the adapter's cable."""


class Target(Protocol):
    kind: str  # node | board
    port: serial.Serial

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


class Connection:
    """What answers on a port, found again when the port comes back: an adapter plugged in
    again gets its path again (always under /dev/serial/by-id; usually /dev/ttyUSBn too)."""

    def __init__(self, path: str, baud: int, timeout_s: float) -> None:
        self.path = path
        self._baud = baud
        self._timeout_s = timeout_s
        self._lock = threading.Lock()  # the shell's keepalive writes from a thread of its own
        self._target: Target | None = connect(path, baud, timeout_s)
        self.kind = self._target.kind

    def ask(self, words: list[str]) -> list[Record]:
        """The target's answer; PortLost when the port fails or is still gone."""
        with self._lock:
            target = self._target or self._find()
            try:
                return target.ask(words)
            except OSError as error:  # serial.SerialException is one
                self._drop()
                raise PortLost(f"{self.path} went away ({error})") from None

    def keepalive(self) -> None:
        """A bare newline, which a node's console hears and answers nothing to: it keeps an
        idle technician's service mode from ending for silence (edge/runtime/service_mode.py)."""
        with self._lock:
            if self._target is None:
                return
            try:
                self._target.port.write(b"\n")
            except OSError:
                self._drop()  # the next request says so

    def wait_back(self) -> None:
        """Return once the port is there again and opened; Ctrl-C stops waiting."""
        while True:
            with self._lock, contextlib.suppress(PortLost):
                self._find()
                return
            time.sleep(RETURN_POLL_S)

    def _find(self) -> Target:
        try:
            target = connect(self.path, self._baud, self._timeout_s)
        except (PortError, OSError) as error:
            raise PortLost(f"{self.path} is gone ({error})") from None
        self._target, self.kind = target, target.kind
        return target

    def _drop(self) -> None:
        if self._target is not None:
            with contextlib.suppress(OSError):
                self._target.port.close()
        self._target = None

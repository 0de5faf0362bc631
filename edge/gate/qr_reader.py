"""The gate's serial QR scanner, read with pyserial on its own thread.

A scanner in USB serial mode types each code as one line (CR, LF or both at the end). A line
that cannot be a token (wrong characters, too long) is a misread and is counted, not
passed on. A scanner that is missing or unplugged is opened again every reopen_s.
"""

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

import serial

from edge.protocol.messages import QrToken

_TOKEN = re.compile(rb"[A-Za-z0-9_.=-]{1,2048}")
MAX_LINE = 4096


@dataclass(frozen=True, slots=True)
class Scanned:
    t: int
    token: QrToken


@dataclass
class QrStats:
    scans: int = 0
    misreads: int = 0
    missing: int = 0  # times the port could not be opened or failed


class QrReader:
    def __init__(
        self,
        port: str,
        clock: Callable[[], int],
        deliver: Callable[[Scanned], None],
        reopen_s: float = 0.5,
        baud: int = 9600,
    ) -> None:
        self.stats = QrStats()
        self.connected = False  # the scanner's port is open now
        self._deliver = deliver
        self._port = port
        self._clock = clock
        self._reopen_s = reopen_s
        self._baud = baud
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="qr-reader", daemon=True)

    def start(self) -> "QrReader":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with serial.Serial(self._port, self._baud, timeout=0.1) as port:
                    self.connected = True
                    self._read(port)
            except (serial.SerialException, OSError):
                self.stats.missing += 1
            self.connected = False
            self._stop.wait(self._reopen_s)

    def _read(self, port: serial.Serial) -> None:
        line = b""
        while not self._stop.is_set():
            data = port.read(256)
            for byte in data:
                if byte in b"\r\n":
                    self._line(line)
                    line = b""
                elif len(line) <= MAX_LINE:
                    line += bytes([byte])

    def _line(self, line: bytes) -> None:
        if not line:
            return
        if _TOKEN.fullmatch(line):
            self.stats.scans += 1
            self._deliver(Scanned(self._clock(), line.decode("ascii")))
        else:
            self.stats.misreads += 1

"""The diagnostics console on a serial port (the Pi's UART, or USB gadget serial): reads
request lines, answers through the session (diag.py), one request at a time.

A port that is missing (no USB host on the gadget yet) or fails is reopened by path every
REOPEN_S. Losing it ends service mode and drops any partial line. The count of wrong PINs
in a row is kept in the node's state directory, written before each PIN is checked, so
neither a restart nor a power cut resets it. A bare carriage return ends a line too, as
most terminal programs send one for Enter. Only a request or a bare newline counts as heard
for service mode's silence rule, never a line of noise.
"""

import json
import logging
import threading
import time
from collections import Counter
from pathlib import Path

import serial

from edge.protocol.diag import MAX_REQUEST, DiagError, ErrorCode, err_line, parse_request
from edge.protocol.filemodes import PRIVATE_FILE, make_dir
from edge.protocol.keys import write_file_atomic
from edge.protocol.lines import LineBuffer
from edge.runtime.diag import ConsoleSession

log = logging.getLogger(__name__)

REOPEN_S = 2.0


def monotonic_ms() -> int:
    """Service mode's clock: a wall clock set by NTP after boot must not unlock a lockout."""
    return time.monotonic_ns() // 1_000_000


def technician_sent(line: bytes) -> bool:
    """A request or a bare newline (storediag's keepalive): what keeps service mode from
    ending for silence. Noise on a floating RX pin ends a line about every 128 bytes; such
    lines would otherwise hold service mode, and a shelf's weight changes, indefinitely."""
    try:
        parse_request(line)
    except DiagError:
        return False
    return True


class PinFailures:
    """Wrong PINs in a row, in a small file of the node's state directory."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> int:
        try:
            return max(0, int(json.loads(self.path.read_text())["pin_failures"]))
        except FileNotFoundError:
            return 0
        except (OSError, ValueError, KeyError, TypeError):
            # Unreadable: assume the worst that still lets a technician in after a lock.
            log.error("%s is unreadable; the console starts locked", self.path)
            return 3

    def write(self, failures: int) -> None:
        make_dir(self.path.parent)
        write_file_atomic(self.path, json.dumps({"pin_failures": failures}).encode(), PRIVATE_FILE)


class DiagConsole:
    def __init__(
        self, port: str, baud: int, session: ConsoleSession, failures: PinFailures, counters: Counter[str]
    ) -> None:
        self._port_name = port
        self._baud = baud
        self.session = session
        self._failures = failures
        self._counters = counters
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="console", daemon=True)
        self._port: serial.Serial | None = None

    def start(self) -> None:
        service = self.session.service
        service.failures = self._failures.read()
        service.record = self._failures.write
        service.started(monotonic_ms())
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def in_service(self) -> bool:
        return self.session.service.active(monotonic_ms())

    def _serve(self) -> None:
        lines = LineBuffer(MAX_REQUEST)
        missing_logged = False
        while not self._stop.is_set():
            if self._port is None:
                try:
                    self._port = serial.Serial(self._port_name, self._baud, timeout=0.2)
                except (serial.SerialException, OSError) as error:
                    if not missing_logged:
                        log.warning("console port %s cannot be opened (%s); trying again", self._port_name, error)
                        missing_logged = True
                    self._stop.wait(REOPEN_S)
                    continue
                log.info("console on %s at %d baud", self._port_name, self._baud)
                missing_logged = False
            try:
                self._pump(self._port, lines)
            except (serial.SerialException, OSError) as error:
                log.warning("console port %s lost (%s)", self._port_name, error)
                self._lost(lines)
            except Exception:  # the console must outlive any one request
                log.exception("console: a request failed unexpectedly; carrying on")
        if self._port is not None:
            self._port.close()

    def _pump(self, port: serial.Serial, lines: LineBuffer) -> None:
        data = port.read(max(1, port.in_waiting))
        if not data:
            return
        overflowed = lines.overflowed
        requests = lines.feed(data.replace(b"\r", b"\n"))  # terminals send a bare CR on Enter
        if lines.overflowed > overflowed:
            self._counters["diag_garbage"] += 1
            port.write(err_line("@", ErrorCode.LINE_TOO_LONG, f"a request is at most {MAX_REQUEST} bytes"))
        for line in requests:
            if technician_sent(line):
                self.session.service.heard(monotonic_ms())
            self._answer(port, line)

    def _answer(self, port: serial.Serial, line: bytes) -> None:
        service = self.session.service
        failures, was_active, garbage = service.failures, self.in_service(), self.session.garbage
        for out in self.session.handle(line, monotonic_ms()):
            port.write(out)
        port.flush()
        self._counters["diag_requests"] += bool(line.strip())
        self._counters["diag_garbage"] += self.session.garbage - garbage
        if service.failures > failures:
            self._counters["diag_pin_failed"] += 1
            log.warning("console: wrong service PIN (%d in a row)", service.failures)
        if self.in_service() != was_active:
            self._counters["diag_service_entered"] += not was_active
            log.info("console: service mode %s", "left" if was_active else "entered")

    def _lost(self, lines: LineBuffer) -> None:
        if self._port is not None:
            self._port.close()
        self._port = None
        lines.clear()
        if self.in_service():
            log.info("console: service mode left with the port")
        self.session.service.leave()
        self._stop.wait(REOPEN_S)

"""The QR reader against the simulated scanner on a pty: lines in, tokens out, misreads counted."""

import itertools
import queue
import time
from pathlib import Path

import pytest

from edge.gate.qr_reader import QrReader, Scanned
from hw.sim.qr_scanner import SimQrScanner

clock = itertools.count(1000).__next__


def next_scan(reader: QrReader, timeout: float = 3.0) -> Scanned:
    return reader.scans.get(timeout=timeout)


@pytest.fixture
def scanner(tmp_path: Path):  # type: ignore[no-untyped-def]
    device = SimQrScanner(tmp_path / "qr").plug()
    yield device
    device.unplug()


def test_each_scanned_line_is_one_token(scanner: SimQrScanner) -> None:
    reader = QrReader(str(scanner.link), clock, reopen_s=0.05).start()
    try:
        time.sleep(0.2)
        scanner.scan("abc.DEF-123_x")
        scanner.type(b"second.token\r\n")
        assert next_scan(reader).token == "abc.DEF-123_x"
        assert next_scan(reader).token == "second.token"
        assert reader.stats.scans == 2
    finally:
        reader.stop()


def test_misreads_are_counted_and_not_passed_on(scanner: SimQrScanner) -> None:
    reader = QrReader(str(scanner.link), clock, reopen_s=0.05).start()
    try:
        time.sleep(0.2)
        scanner.type(b"not a token!\r")
        scanner.type(b"\xff\xfe\r")
        scanner.type(b"x" * 3000 + b"\r")
        scanner.scan("good.one")
        assert next_scan(reader).token == "good.one"
        assert reader.stats.misreads == 3
        with pytest.raises(queue.Empty):
            reader.scans.get(timeout=0.2)
    finally:
        reader.stop()


def test_a_scanner_plugged_in_late_or_again_is_read(tmp_path: Path) -> None:
    scanner = SimQrScanner(tmp_path / "qr")
    reader = QrReader(str(scanner.link), clock, reopen_s=0.05).start()
    try:
        time.sleep(0.2)
        assert reader.stats.missing >= 1
        scanner.plug()
        time.sleep(0.3)
        scanner.scan("first.plug")
        assert next_scan(reader).token == "first.plug"
        scanner.unplug()
        time.sleep(0.2)
        scanner.plug()
        time.sleep(0.3)
        scanner.scan("second.plug")
        assert next_scan(reader).token == "second.plug"
    finally:
        reader.stop()
        scanner.unplug()

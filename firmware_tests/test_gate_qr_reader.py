"""The QR reader against the simulated scanner on a pty: lines in, tokens out, misreads counted."""

import itertools
import queue
import time
from pathlib import Path

import pytest

from edge.gate.qr_reader import QrReader, Scanned
from hw.sim.qr_scanner import SimQrScanner

clock = itertools.count(1000).__next__


def reading(port: Path) -> tuple[QrReader, "queue.Queue[Scanned]"]:
    scans: queue.Queue[Scanned] = queue.Queue()
    return QrReader(str(port), clock, scans.put, reopen_s=0.05).start(), scans


@pytest.fixture
def scanner(tmp_path: Path):  # type: ignore[no-untyped-def]
    device = SimQrScanner(tmp_path / "qr").plug()
    yield device
    device.unplug()


def test_each_scanned_line_is_one_token(scanner: SimQrScanner) -> None:
    reader, scans = reading(scanner.link)
    try:
        time.sleep(0.2)
        scanner.scan("abc.DEF-123_x")
        scanner.type(b"second.token\r\n")
        assert scans.get(timeout=3).token == "abc.DEF-123_x"
        assert scans.get(timeout=3).token == "second.token"
        assert reader.stats.scans == 2
    finally:
        reader.stop()


def test_misreads_are_counted_and_not_passed_on(scanner: SimQrScanner) -> None:
    reader, scans = reading(scanner.link)
    try:
        time.sleep(0.2)
        scanner.type(b"not a token!\r")
        scanner.type(b"\xff\xfe\r")
        scanner.type(b"x" * 3000 + b"\r")
        scanner.scan("good.one")
        assert scans.get(timeout=3).token == "good.one"
        assert reader.stats.misreads == 3
        with pytest.raises(queue.Empty):
            scans.get(timeout=0.2)
    finally:
        reader.stop()


def test_a_scanner_plugged_in_late_or_again_is_read(tmp_path: Path) -> None:
    scanner = SimQrScanner(tmp_path / "qr")
    reader, scans = reading(scanner.link)
    try:
        time.sleep(0.2)
        assert reader.stats.missing >= 1
        scanner.plug()
        time.sleep(0.3)
        scanner.scan("first.plug")
        assert scans.get(timeout=3).token == "first.plug"
        scanner.unplug()
        time.sleep(0.2)
        scanner.plug()
        time.sleep(0.3)
        scanner.scan("second.plug")
        assert scans.get(timeout=3).token == "second.plug"
    finally:
        reader.stop()
        scanner.unplug()

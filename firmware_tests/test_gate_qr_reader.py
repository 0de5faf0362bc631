"""The QR reader against the simulated scanner on a pty: lines in, tokens out, misreads counted."""

import itertools
import queue
from pathlib import Path

import pytest

from edge.gate.qr_reader import QrReader, Scanned
from firmware_tests.conftest import wait_until
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


def opened(reader: QrReader) -> None:
    """Wait for the reader to have the port open: what the scanner types before then is
    flushed with the port's input on opening, as a real reader's would be."""
    wait_until(lambda: reader.connected, 30, "the reader to open the scanner's port")


def test_each_scanned_line_is_one_token(scanner: SimQrScanner) -> None:
    reader, scans = reading(scanner.link)
    try:
        opened(reader)
        scanner.scan("abc.DEF-123_x")
        scanner.type(b"second.token\r\n")
        assert scans.get(timeout=30).token == "abc.DEF-123_x"
        assert scans.get(timeout=30).token == "second.token"
        assert reader.stats.scans == 2
    finally:
        reader.stop()


def test_misreads_are_counted_and_not_passed_on(scanner: SimQrScanner) -> None:
    reader, scans = reading(scanner.link)
    try:
        opened(reader)
        scanner.type(b"not a token!\r")
        scanner.type(b"\xff\xfe\r")
        scanner.type(b"x" * 3000 + b"\r")
        scanner.scan("good.one")
        assert scans.get(timeout=30).token == "good.one"  # lines are read in order: the misreads are behind us
        assert reader.stats.misreads == 3
        assert scans.empty()
    finally:
        reader.stop()


def test_a_scanner_plugged_in_late_or_again_is_read(tmp_path: Path) -> None:
    scanner = SimQrScanner(tmp_path / "qr")
    reader, scans = reading(scanner.link)
    try:
        wait_until(lambda: reader.stats.missing >= 1, 30, "the reader to find no scanner")
        scanner.plug()
        opened(reader)
        scanner.scan("first.plug")
        assert scans.get(timeout=30).token == "first.plug"
        scanner.unplug()
        wait_until(lambda: not reader.connected, 30, "the reader to lose the port")
        scanner.plug()
        opened(reader)
        scanner.scan("second.plug")
        assert scans.get(timeout=30).token == "second.plug"
    finally:
        reader.stop()
        scanner.unplug()

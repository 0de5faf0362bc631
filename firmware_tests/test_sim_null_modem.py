"""The simulated serial cable: bytes both ways, noise, a cut, and an end pulled and put back."""

import time
from pathlib import Path

import pytest
import serial

from hw.sim.null_modem import NullModem


@pytest.fixture
def cable(tmp_path: Path) -> NullModem:
    modem = NullModem(tmp_path / "a", tmp_path / "b").plug()
    yield modem  # type: ignore[misc]
    modem.close()


def _read(port: serial.Serial, n: int, timeout_s: float = 2) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout_s
    while len(data) < n and time.monotonic() < deadline:
        data += port.read(n - len(data))
    return data


def test_bytes_cross_both_ways(cable: NullModem) -> None:
    a = serial.Serial(str(cable.a.link), 115200, timeout=0.1)
    b = serial.Serial(str(cable.b.link), 115200, timeout=0.1)
    a.write(b"hello b\n")
    assert _read(b, 8) == b"hello b\n"
    b.write(bytes(range(256)))
    assert _read(a, 256) == bytes(range(256)), "raw: every byte value passes unchanged"


def test_noise_and_a_cut(cable: NullModem) -> None:
    a = serial.Serial(str(cable.a.link), 115200, timeout=0.1)
    b = serial.Serial(str(cable.b.link), 115200, timeout=0.1)
    cable.noise_to_b = lambda data: data.upper()
    a.write(b"quiet\n")
    assert _read(b, 6) == b"QUIET\n"
    cable.cut = True
    a.write(b"lost\n")
    assert _read(b, 5, timeout_s=0.5) == b""
    cable.cut = False
    a.write(b"back\n")
    assert _read(b, 5) == b"BACK\n"


def test_a_pulled_end_fails_its_program_and_comes_back_at_the_same_path(cable: NullModem) -> None:
    a = serial.Serial(str(cable.a.link), 115200, timeout=0.1)
    cable.pull(cable.a)
    with pytest.raises((serial.SerialException, OSError)):
        for _ in range(20):
            a.read(1)
            a.write(b"x")
    assert not cable.a.link.exists()
    cable.push(cable.a)
    again = serial.Serial(str(cable.a.link), 115200, timeout=0.1)
    b = serial.Serial(str(cable.b.link), 115200, timeout=0.1)
    again.write(b"hi\n")
    assert _read(b, 3) == b"hi\n"

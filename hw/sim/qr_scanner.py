"""A simulated serial QR scanner on a pseudo-terminal. Like a real one in its USB serial
(CDC) mode, it types each code it reads as one line ending in a carriage return, and says
nothing otherwise. It can be unplugged and plugged back.

The gate reaches it through a stable path (hw/sim/pty_port.py), as a udev rule gives a
real scanner a stable name.
"""

import os
from pathlib import Path

from hw.sim.pty_port import PtyPort


class SimQrScanner:
    def __init__(self, link: Path, suffix: bytes = b"\r") -> None:
        self.link = link
        self._port = PtyPort(link)
        self._suffix = suffix

    def plug(self) -> "SimQrScanner":
        self._port.plug()
        return self

    def scan(self, code: str) -> None:
        """A code held under the scanner."""
        self.type(code.encode("ascii") + self._suffix)

    def type(self, data: bytes) -> None:
        """Raw bytes on the line: a misread, noise, half a code."""
        os.write(self._port.master, data)

    def unplug(self) -> None:
        self._port.unplug()

"""A simulated serial QR scanner on a pseudo-terminal. Like a real one in its USB serial
(CDC) mode, it types each code it reads as one line ending in a carriage return, and says
nothing otherwise. It can be unplugged and plugged back.

The gate reaches it through a stable path (a symlink to the current pty), as a udev rule
gives a real scanner a stable name.
"""

import os
import pty
import termios
from pathlib import Path


class SimQrScanner:
    def __init__(self, link: Path, suffix: bytes = b"\r") -> None:
        self.link = link
        self._suffix = suffix
        self._master = -1
        self._slave = -1

    def plug(self) -> "SimQrScanner":
        self._master, self._slave = pty.openpty()
        attributes = termios.tcgetattr(self._slave)
        attributes[3] &= ~(termios.ECHO | termios.ICANON)  # raw: the reader sees bytes as typed
        termios.tcsetattr(self._slave, termios.TCSANOW, attributes)
        tmp = self.link.with_name(self.link.name + ".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(os.ttyname(self._slave))
        os.replace(tmp, self.link)
        return self

    def scan(self, code: str) -> None:
        """A code held under the scanner."""
        self.type(code.encode("ascii") + self._suffix)

    def type(self, data: bytes) -> None:
        """Raw bytes on the line: a misread, noise, half a code."""
        os.write(self._master, data)

    def unplug(self) -> None:
        self.link.unlink(missing_ok=True)
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1

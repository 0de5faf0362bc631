"""A simulated serial device's port: a pseudo-terminal in raw mode, reached through a stable
path (a symlink to the current pty), as a udev rule gives a real device a stable name
whatever /dev/tty* it gets. Plugging in again makes a new pty behind the same path."""

import os
import pty
import tty
from pathlib import Path


class PtyPort:
    def __init__(self, link: Path) -> None:
        self.link = link
        self.master = -1
        self._slave = -1

    def plug(self) -> int:
        """Make the pty and point the link at it; returns the device side (the master)."""
        self.master, self._slave = pty.openpty()
        tty.setraw(self._slave)  # no echo: what the device writes must not come back to it
        new = self.link.with_name(self.link.name + ".new")
        new.unlink(missing_ok=True)
        new.symlink_to(os.ttyname(self._slave))
        os.replace(new, self.link)
        return self.master

    def unplug(self) -> None:
        self.link.unlink(missing_ok=True)
        for fd in (self.master, self._slave):
            if fd >= 0:
                os.close(fd)
        self.master = self._slave = -1

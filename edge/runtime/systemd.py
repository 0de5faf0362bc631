"""The node's side of systemd's service protocol (sd_notify(3)): ready, watchdog pings,
stopping. Outside systemd (no NOTIFY_SOCKET) every call does nothing.

Written here rather than taken from a library: the protocol is one datagram per call, the
`sdnotify` package has not been released since 2017, and `systemd-python` needs libsystemd's
headers to build on every node.
"""

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


class ServiceManager:
    def __init__(self, environ: Mapping[str, str] = os.environ) -> None:
        address = environ.get("NOTIFY_SOCKET") or None
        # systemd names an abstract socket with a leading "@"
        self._address = "\0" + address[1:] if address and address.startswith("@") else address
        usec = environ.get("WATCHDOG_USEC")
        pid = environ.get("WATCHDOG_PID")
        for_us = pid is None or pid == str(os.getpid())
        self.watchdog_s: float | None = int(usec) / 1e6 if usec and usec.isdigit() and for_us else None

    @property
    def present(self) -> bool:
        return self._address is not None

    def notify(self, *fields: str) -> None:
        if self._address is None:
            return
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto("\n".join(fields).encode(), self._address)
        except OSError as error:
            log.warning("cannot reach the service manager at %s: %s", self._address.lstrip("\0"), error)

    def ready(self, status: str) -> None:
        self.notify("READY=1", f"STATUS={status}")

    def watchdog(self) -> None:
        self.notify("WATCHDOG=1")

    def stopping(self) -> None:
        self.notify("STOPPING=1")

"""The hardware watchdog hook: the gate's loop pets it while the loop is alive, so a hung or
crashed controller is reset by the board, and the relay drops to the state its fail mode
gives. Backends: none, or a Linux watchdog device (/dev/watchdog; on a Pi, bcm2835_wdt).

Closing writes the magic character 'V' first, so that a clean stop disarms the watchdog
instead of resetting the board.
"""

import os
from pathlib import Path
from typing import Protocol


class Watchdog(Protocol):
    def pet(self) -> None: ...

    def close(self) -> None: ...


class NoWatchdog:
    def pet(self) -> None:
        pass

    def close(self) -> None:
        pass


class DeviceWatchdog:
    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_WRONLY)

    def pet(self) -> None:
        os.write(self._fd, b"\0")

    def close(self) -> None:
        os.write(self._fd, b"V")
        os.close(self._fd)


def open_watchdog(device: str | None) -> Watchdog:
    return DeviceWatchdog(Path(device)) if device else NoWatchdog()

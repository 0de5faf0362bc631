"""A serial cable between two programs, as a pair of pseudo-terminals: each end is a stable
path (hw/sim/pty_port.py) that either program opens as its serial port, and the bytes
between them pass through here, where a test can add line noise, cut the cable, or pull
one end out (that end's program then sees its port fail, as with a USB adapter pulled).
"""

import contextlib
import os
import select
import threading
from collections.abc import Callable
from pathlib import Path

from hw.sim.pty_port import PtyPort

Noise = Callable[[bytes], bytes]


def _clean(data: bytes) -> bytes:
    return data


class NullModem:
    def __init__(self, a: Path, b: Path) -> None:
        self.a, self.b = PtyPort(a), PtyPort(b)
        self.noise_to_a: Noise = _clean  # what b sends, on its way to a
        self.noise_to_b: Noise = _clean
        self.cut = False  # bytes either way are lost
        self._running = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def plug(self) -> "NullModem":
        for end in (self.a, self.b):
            os.set_blocking(end.plug(), False)
        self._running.set()
        self._thread = threading.Thread(target=self._relay, name="null-modem", daemon=True)
        self._thread.start()
        return self

    def pull(self, end: PtyPort) -> None:
        """Pull one end out: its pty goes away, and a program still holding it gets I/O errors."""
        with self._lock:
            end.unplug()

    def push(self, end: PtyPort) -> None:
        """Plug a pulled end back in (a new pty behind the same path)."""
        with self._lock:
            os.set_blocking(end.plug(), False)

    def close(self) -> None:
        self._running.clear()
        if self._thread is not None:
            self._thread.join(2)
        with self._lock:
            self.a.unplug()
            self.b.unplug()

    def _relay(self) -> None:
        while self._running.is_set():
            with self._lock:
                ends = [end for end in (self.a, self.b) if end.master >= 0]
            try:
                ready, _, _ = select.select([end.master for end in ends], [], [], 0.02)
            except (OSError, ValueError):  # an end was pulled while we waited
                continue
            with self._lock:
                for end in ends:
                    if end.master not in ready or end.master < 0:
                        continue
                    try:
                        data = os.read(end.master, 4096)
                    except OSError:  # BlockingIOError: select woke for nothing
                        continue
                    other = self.b if end is self.a else self.a
                    noise = self.noise_to_b if end is self.a else self.noise_to_a
                    if self.cut or other.master < 0:
                        continue
                    # An end whose program reads nothing fills up: the rest is lost, as on a wire.
                    with contextlib.suppress(OSError):
                        os.write(other.master, noise(data))

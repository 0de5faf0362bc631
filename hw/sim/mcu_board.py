"""A simulated RP2040 shelf board on a pseudo-terminal, speaking the board's line protocol
(edge/shelf/mcu_protocol.py) as the MicroPython firmware does: frames at its sample rate,
answers to `id`, `rate`, `channels` and `selftest`. It can be unplugged and plugged back,
and can put garbage on the line.

The board is reached through a stable path (hw/sim/pty_port.py), as a udev rule gives a
real board a stable name whatever /dev/ttyACM number it gets.
"""

import contextlib
import os
import select
import threading
import time
from collections.abc import Callable
from pathlib import Path

from edge.shelf.mcu_protocol import encode_frame, encode_reply
from hw.sim.pty_port import PtyPort


class SimMcuBoard:
    def __init__(self, link: Path, counts: Callable[[float], list[int | None]], rate_sps: int = 10) -> None:
        self.link = link
        self._port = PtyPort(link)
        self._counts = counts
        self.rate_sps = rate_sps
        self._thread: threading.Thread | None = None
        self._running = threading.Event()
        self._seq = 0
        self._booted = time.monotonic()
        self._garbage: list[bytes] = []
        self._lock = threading.Lock()

    def plug(self) -> "SimMcuBoard":
        self._port.plug()
        self._running.set()
        self._thread = threading.Thread(target=self._serve, name="sim-mcu", daemon=True)
        self._thread.start()
        return self

    def unplug(self) -> None:
        self._running.clear()
        if self._thread is not None:
            self._thread.join(2)
        self._port.unplug()

    def inject(self, noise: bytes) -> None:
        with self._lock:
            self._garbage.append(noise)

    def _answer(self, command: str) -> str:
        words = command.split()
        if words == ["id"]:
            return "id rp2040 sim fw 1"
        if words == ["channels"]:
            return f"channels {len(self._counts(0.0))}"
        if len(words) == 2 and words[0] == "rate" and words[1] in ("10", "80"):
            self.rate_sps = int(words[1])
            return f"ok rate {self.rate_sps}"
        if words == ["selftest"]:
            bad = [i for i, c in enumerate(self._counts(0.0)) if c is None]
            return "selftest ok" if not bad else f"selftest fail channels {bad}"
        return f"err unknown command {command!r}"

    def _serve(self) -> None:
        pending = b""
        next_frame = time.monotonic()
        while self._running.is_set():
            ready, _, _ = select.select([self._port.master], [], [], 0.005)
            if ready:
                try:
                    pending += os.read(self._port.master, 1024)
                except OSError:
                    pending = b""
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    self._write(encode_reply(self._answer(line.decode(errors="replace").strip())))
            now = time.monotonic()
            if now >= next_frame:
                board_ms = int((now - self._booted) * 1000)
                with self._lock:
                    noise, self._garbage = self._garbage, []
                for chunk in noise:
                    self._write(chunk)
                self._write(encode_frame(self._seq, board_ms, self._counts(now - self._booted)))
                self._seq += 1
                next_frame += 1 / self.rate_sps

    def _write(self, data: bytes) -> None:
        with contextlib.suppress(OSError):  # unplugged while writing
            os.write(self._port.master, data)

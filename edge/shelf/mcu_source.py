"""Sample source `mcu`: the RP2040 shelf board on USB serial (edge/mcu), read with pyserial.

The board timestamps every frame with its own clock, and the Pi maps that onto its wall
clock (mcu_protocol.BoardClock), so USB and scheduling delays do not blur event times.
A missing board (the port is gone or fails) is reopened by path every half second; a
silent one (no frame for two seconds) is reported. Either way `read` returns within a
second or two with no counts, so the node stays responsive and counts rejected samples.

The board's rate follows the node's config: every time the port opens (a board plugged in
again may have rebooted) the source sets it with `rate`, and asks again until it is obeyed.
"""

import collections
import time
from collections.abc import Callable
from dataclasses import dataclass

import serial

from edge.protocol.clock import wall_ms
from edge.shelf.calibration import LaneCalibration
from edge.shelf.mcu_protocol import BoardClock, BoardFrame, BoardReply, FrameDecoder
from edge.shelf.sources import RawReading


@dataclass
class McuStats:
    frames: int = 0
    garbage: int = 0
    dropped: int = 0  # frames the board numbered but that never arrived
    missing: int = 0  # times the port went away or could not be opened
    silent: int = 0  # reads that found no frame for too long
    unconfigured: int = 0  # times the board did not confirm the rate it was set to


class BoardTimeout(Exception):
    """The board did not answer a command."""


class McuShelf:
    def __init__(
        self,
        port: str,
        lanes: list[int],
        rate_sps: int = 10,
        reopen_s: float = 0.5,
        silent_s: float = 2.0,
        wall_ms: Callable[[], int] = wall_ms,
    ) -> None:
        self._port = port
        self._lanes = lanes
        self._rate = rate_sps
        self._configured = False
        self._reopen_s = reopen_s
        self._silent_s = silent_s
        self._wall_ms = wall_ms
        self._serial: serial.Serial | None = None
        self._decoder = FrameDecoder()
        self._clock = BoardClock()
        self._frames: collections.deque[tuple[BoardFrame, int]] = collections.deque()
        self._replies: collections.deque[str] = collections.deque()
        self._last_seq: int | None = None
        self._last_frame = time.monotonic()
        self.stats = McuStats()

    def _open(self) -> serial.Serial | None:
        if self._serial is None:
            try:
                self._serial = serial.Serial(self._port, 115200, timeout=0.05)
            except (serial.SerialException, OSError):
                self.stats.missing += 1
                return None
        return self._serial

    def _pump(self) -> None:
        """Read what the port has; a failing port is closed, to be reopened."""
        port = self._open()
        if port is None:
            time.sleep(self._reopen_s)
            return
        try:
            data = port.read(4096)
        except (serial.SerialException, OSError):
            self.stats.missing += 1
            self.close()
            return
        received = self._wall_ms()
        for item in self._decoder.feed(data):
            if isinstance(item, BoardReply):
                self._replies.append(item.text)
            else:
                self._frames.append((item, received))
        self.stats.garbage = self._decoder.garbage

    def _configure(self) -> None:
        try:
            reply = self.ask(f"rate {self._rate}", timeout_s=0.5)
        except BoardTimeout:
            reply = ""
        self._configured = reply == f"ok rate {self._rate}"
        self.stats.unconfigured += not self._configured

    def read(self) -> RawReading:
        if not self._configured and self._open() is not None:
            self._configure()
        deadline = time.monotonic() + min(1.0, self._silent_s)
        while not self._frames:
            if time.monotonic() > deadline:
                if time.monotonic() - self._last_frame > self._silent_s:
                    self.stats.silent += 1
                return RawReading(self._wall_ms(), {lane: None for lane in self._lanes})
            self._pump()
        frame, received = self._frames.popleft()
        self._last_frame = time.monotonic()
        self.stats.frames += 1
        if self._last_seq is not None:
            self.stats.dropped += (frame.seq - self._last_seq - 1) % 65536
        self._last_seq = frame.seq
        counts = dict(zip(self._lanes, list(frame.counts) + [None] * len(self._lanes), strict=False))
        return RawReading(self._clock.to_wall(frame.board_ms, received), counts)

    def ask(self, command: str, timeout_s: float = 1.0) -> str:
        """Send a command line and return the board's answer (frames meanwhile are kept)."""
        port = self._open()
        if port is None:
            raise BoardTimeout(f"no board on {self._port}")
        self._replies.clear()
        port.write(command.encode() + b"\n")
        deadline = time.monotonic() + timeout_s
        while not self._replies:
            if time.monotonic() > deadline:
                raise BoardTimeout(f"the board on {self._port} did not answer {command!r}")
            self._pump()
        return self._replies.popleft()

    def factory_calibration(self) -> dict[int, LaneCalibration]:
        return {}

    def close(self) -> None:
        if self._serial is not None:
            self._serial.close()
            self._serial = None
            self._configured = False

"""One simulated gate lane, attached where the real hardware attaches: gpiozero's mock pins
for the relay, the two passage beams and the fire contact; a QR scanner on a pty; a palm
sensor that hands the gate regions of interest of presented hands.

Tests and benchmarks act through it (present a palm, scan a code, walk through, pull the
fire alarm) and watch the relay. Its pins belong to the gate's own driver (edge/gate/pins.py),
which is made on this lane's pin factory before the lane starts.
"""

import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from gpiozero.pins.mock import MockFactory

from edge.gate.palm_sensor import PalmCapture
from edge.gate.turnstile import Feedback, energised
from edge.runtime.config import GateConfig
from hw.sim.palm import capture, identity
from hw.sim.qr_scanner import SimQrScanner

STEP_S = 0.25  # between one beam's edge and the next as someone walks through


class SimGateLane:
    def __init__(
        self, config: GateConfig, clock: Callable[[], int], deliver: Callable[[PalmCapture], None], pty_dir: Path
    ) -> None:
        self.config = config
        self.factory = MockFactory()
        self.scanner = SimQrScanner(pty_dir / "qr-scanner").plug()
        self._clock = clock
        self._deliver = deliver
        self._relay_pin = self.factory.pin(config.relay_pin)
        self._beams = {
            "outer": self.factory.pin(config.outer_beam_pin),
            "inner": self.factory.pin(config.inner_beam_pin),
        }
        self._fire = self.factory.pin(config.fire_pin)
        self._walking = threading.Lock()
        self.releases: list[int] = []  # when the relay released the barrier, on the node's clock
        self.feedback: list[Feedback] = []  # what the gate showed, in order
        self._watching = threading.Event()
        self._watcher = threading.Thread(target=self._watch_relay, name="sim-gate-relay", daemon=True)

    @staticmethod
    def _level(pin: object, active: bool, active_high: bool) -> None:
        high = active == active_high
        pin.drive_high() if high else pin.drive_low()  # type: ignore[attr-defined]

    def start(self) -> "SimGateLane":
        """Everything idle: beams clear, no fire."""
        for pin in self._beams.values():
            self._level(pin, active=False, active_high=self.config.beams_blocked_high)
        self._level(self._fire, active=False, active_high=self.config.fire_active_high)
        self._watching.set()
        self._watcher.start()
        return self

    def _watch_relay(self) -> None:
        """Record each release of the barrier as it happens (a mock output pin calls nothing back)."""
        was_released = False
        while self._watching.is_set():
            released = self.released
            if released and not was_released:
                self.releases.append(self._clock())
            was_released = released
            time.sleep(0.002)

    @property
    def released(self) -> bool:
        return bool(self._relay_pin.state) == energised(True, self.config.fail_mode)

    def present_palm(self, palm_seed: int, capture_seed: int) -> None:
        self.present(capture(identity(palm_seed), capture_seed))

    def present(self, roi: np.ndarray) -> None:
        self._deliver(PalmCapture(self._clock(), roi))

    def scan(self, token: str) -> None:
        self.scanner.scan(token)

    def walk(self, direction: str = "in", step_s: float = STEP_S) -> None:
        """Someone walks through: the first beam, both, the second, clear."""
        first, second = ("outer", "inner") if direction == "in" else ("inner", "outer")
        high = self.config.beams_blocked_high
        with self._walking:
            for beam, blocked in ((first, True), (second, True), (first, False), (second, False)):
                self._level(self._beams[beam], active=blocked, active_high=high)
                time.sleep(step_s)

    def fire_alarm(self, active: bool) -> None:
        self._level(self._fire, active=active, active_high=self.config.fire_active_high)

    def close(self) -> None:
        self._watching.clear()
        if self._watcher.is_alive():
            self._watcher.join(1)
        self.scanner.unplug()
        self.factory.close()

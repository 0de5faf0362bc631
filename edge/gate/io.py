"""The gate's hardware for its backend: `gpio` (the Pi's pins through gpiozero, and a QR
scanner on a serial port when one is configured) or `sim` (a simulated lane,
hw/sim/gate_lane.py, attached to the same drivers). Every input is delivered to one
callable, the gate loop's inbox.

No palm sensor module is supported on real hardware yet: a `gpio` gate takes QR codes only.
"""

import contextlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.gate.pins import GatePins
from edge.gate.qr_reader import QrReader
from edge.gate.turnstile import Feedback, energised
from edge.protocol.configfile import ConfigError
from edge.runtime.config import GateConfig

if TYPE_CHECKING:
    from hw.sim.gate_lane import SimGateLane


@dataclass
class GateIo:
    pins: GatePins
    qr: QrReader | None
    lane: "SimGateLane | None" = None  # the simulated lane, for tests and the demo to act through
    _cleanup: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def indicate(self, feedback: Feedback) -> None:
        """What the shopper is shown. The simulated lane's shoppers react to it; a real gate
        has no display driver yet, and the app logs it."""
        if self.lane is not None:
            self.lane.feedback.append(feedback)

    def close(self) -> None:
        self._cleanup.close()


def open_gate_io(
    gate: GateConfig,
    backend: str,
    clock: Callable[[], int],
    deliver: Callable[[Any], None],
    drive: Path | None = None,
) -> GateIo:
    """`drive` (sim only): a store world's shoppers to act out on the simulated lane."""
    cleanup = contextlib.ExitStack()
    factory, qr_port, lane = None, gate.qr_port, None
    if backend == "sim":
        from hw.sim.gate_drive import GateDrivePlayer
        from hw.sim.gate_lane import SimGateLane
        from hw.sim.world.drives import GateDrive, load_drive

        shoppers = None if drive is None else load_drive(drive, GateDrive)
        pty_dir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="sim-gate-")))
        lane = SimGateLane(gate, clock, deliver, pty_dir)
        cleanup.callback(lane.close)
        factory, qr_port = lane.factory, str(lane.scanner.link)
    elif drive is not None:
        raise ConfigError("[hardware] drive is for the sim backend only")
    elif backend != "gpio":
        raise ConfigError(f"hardware backend {backend!r} is not available for gates in this build (gpio, sim)")
    pins = GatePins(gate, energised(False, gate.fail_mode), clock, deliver, factory)  # locked
    cleanup.callback(pins.close)
    qr = None
    if qr_port is not None:
        qr = QrReader(qr_port, clock, deliver).start()
        cleanup.callback(qr.stop)
    if lane is not None:
        lane.start()
        if shoppers is not None:
            player = GateDrivePlayer(lane, shoppers).start()
            cleanup.callback(player.stop)
    return GateIo(pins, qr, lane, cleanup)

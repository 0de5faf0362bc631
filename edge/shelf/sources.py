"""Sample sources of a shelf node, and the one place that picks one from the config's
hardware backend."""

from pathlib import Path
from typing import NamedTuple, Protocol

from edge.protocol.configfile import ConfigError, resolve
from edge.runtime.config import NodeConfig
from edge.shelf.calibration import LaneCalibration


class RawReading(NamedTuple):
    """Raw counts of every lane at one instant; None where a lane's read was rejected."""

    t_ms: int
    counts: dict[int, int | None]


class SampleSource(Protocol):
    def read(self) -> RawReading:
        """Block until the next sample period and return its readings."""
        ...

    def factory_calibration(self) -> dict[int, LaneCalibration]:
        """Calibration the hardware itself knows, for lanes not yet calibrated on the node."""
        ...

    def close(self) -> None: ...


def open_source(config: NodeConfig, base: Path) -> SampleSource:
    shelf, hardware = config.shelf, config.hardware
    if shelf is None:
        raise ConfigError("a shelf node needs a [shelf] table (id, lanes)")
    if hardware.backend == "gpio":
        from edge.shelf.gpio_source import GpioShelf

        if len(hardware.dout_pins) != len(shelf.lanes) or len(hardware.sck_pins) != len(shelf.lanes):
            raise ConfigError("[hardware] dout_pins and sck_pins need one pin per lane in [shelf] lanes")
        return GpioShelf(
            dict(zip(shelf.lanes, zip(hardware.dout_pins, hardware.sck_pins, strict=True), strict=True)), shelf.rate_sps
        )
    if hardware.backend == "mcu":
        from edge.shelf.mcu_source import McuShelf

        if hardware.port is None:
            raise ConfigError("[hardware] port names the shelf board's serial port for backend mcu")
        return McuShelf(hardware.port, shelf.lanes, shelf.rate_sps)
    if hardware.backend == "sim":
        from hw.sim.shelf_source import SimShelfSource
        from hw.sim.world.drives import ShelfDrive, load_drive

        drive = None if hardware.drive is None else load_drive(resolve(base, hardware.drive), ShelfDrive)
        return SimShelfSource(shelf.lanes, shelf.rate_sps, hardware.seed, shelf.noise_mg, drive=drive)
    raise ConfigError(
        f"hardware backend {hardware.backend!r} is not available for shelves in this build (mcu, gpio, sim)"
    )

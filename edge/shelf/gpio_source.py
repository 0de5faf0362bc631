"""Sample source `gpio`: an HX711 wired to the Pi's GPIO, read through the `hx711` package
(extra `pi`), with the validation that package lacks.

The package times each clock pulse and gives up on a read whose pulse looked longer than
60 us, assuming the chip powered down and reset. But its timing includes Python overhead
outside the real high period, so the chip may still be half-way through shifting a word
out, and the package's next read would start mid-word and return a wrong value as valid.
So after any rejected read this source forces a clean reset (clock held high, then low),
and discards readings for the settling time that follows. It also times out on a chip that
never becomes ready (the package's `get_raw_data` loops forever on an unplugged chip), and
rejects the saturated and all-ones words the package lets through.

Only channel A at gain 128 is used: that is what a reset restores, so a reset never leaves
the package and the chip disagreeing about the gain.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edge.protocol.clock import wall_ms
from edge.shelf.calibration import LaneCalibration
from edge.shelf.sources import RawReading

SETTLING_S = {10: 0.4, 80: 0.05}
PERIOD_S = {10: 0.1, 80: 0.0125}
# Words a healthy conversion never produces: saturation either way, and all ones (a chip
# reset mid-read leaves DOUT high, so every later bit reads 1).
_IMPLAUSIBLE = frozenset({0x7FFFFF, -0x800000, -1})


@dataclass
class GpioStats:
    accepted: int = 0
    rejected: int = 0
    timeouts: int = 0
    resyncs: int = 0
    discarded_settling: int = 0


class Hx711Gpio:
    def __init__(
        self,
        dout_pin: int,
        sck_pin: int,
        rate_sps: int = 10,
        ready_timeout_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import hx711  # the `pi` extra; imported here so that other backends need no GPIO

        if rate_sps not in SETTLING_S:
            raise ValueError("the HX711 converts at 10 or 80 samples per second")
        self._rate = rate_sps
        self._timeout = ready_timeout_s
        self._clock = clock
        self._sleep = sleep
        self.stats = GpioStats()
        self._chip: Any = hx711.HX711(dout_pin=dout_pin, pd_sck_pin=sck_pin, gain=128, channel="A")
        self._settled_at = clock() + SETTLING_S[rate_sps]

    def read(self) -> int | None:
        """One validated raw count; None when the chip timed out, the read was rejected, or
        the chip is still settling after a reset."""
        deadline = self._clock() + self._timeout
        while not self._chip._ready():  # noqa: SLF001 - the package has no public readiness check
            if self._clock() > deadline:
                self.stats.timeouts += 1
                return None
            self._sleep(PERIOD_S[self._rate] / 4)
        value = self._chip._read(max_tries=1)  # noqa: SLF001 - one read, validated by the package's own timing
        if value is False or value in _IMPLAUSIBLE:
            self.stats.rejected += 1
            self._resync()
            return None
        if self._clock() < self._settled_at:
            self.stats.discarded_settling += 1
            return None
        self.stats.accepted += 1
        return int(value)

    def _resync(self) -> None:
        """Hold the clock high past 60 us so the chip surely resets, then wait out its settling."""
        self.stats.resyncs += 1
        self._chip.power_down()
        self._chip.power_up()
        self._settled_at = self._clock() + SETTLING_S[self._rate] + PERIOD_S[self._rate]


class GpioShelf:
    """One HX711 per lane, each on its own clock pin (chips sharing a clock would be clocked
    by each other's reads). Lanes are read in turn once per sample period."""

    def __init__(
        self,
        pins: dict[int, tuple[int, int]],
        rate_sps: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._chips = {
            lane: Hx711Gpio(dout, sck, rate_sps, clock=clock, sleep=sleep) for lane, (dout, sck) in pins.items()
        }

    def read(self) -> RawReading:
        counts = {lane: chip.read() for lane, chip in self._chips.items()}
        return RawReading(wall_ms(), counts)

    def factory_calibration(self) -> dict[int, LaneCalibration]:
        return {}

    def close(self) -> None:
        return None

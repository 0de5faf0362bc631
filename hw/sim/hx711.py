"""An HX711 as its datasheet describes it, driven by PD_SCK edges at the times they happen.

- DOUT goes low when a conversion is ready; 24 rising edges shift it out, MSB first, in
  24-bit two's complement; the 25th pulse pulls DOUT high again.
- 25, 26 or 27 pulses in all select channel A gain 128, B gain 32 or A gain 64 for the next
  conversion; any other count is a serial error and changes nothing.
- PD_SCK high for more than 60 us powers the chip down; when it goes low again the chip
  resets to A/128.
- 10 or 80 samples per second; after a reset or a change of channel or gain the first
  data is ready only after the settling time (400 ms at 10 SPS, 50 ms at 80 SPS).

State is evaluated lazily at each pin event from the clock, so the model runs at real
speed behind a fake GPIO, or deterministically with a clock the caller controls.
"""

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

POWER_DOWN_NS = 60_000
PERIOD_NS = {10: 100_000_000, 80: 12_500_000}
SETTLING_NS = {10: 400_000_000, 80: 50_000_000}
# input-referred noise at gain 128 (datasheet: 50 nV rms at 10 SPS, 90 nV at 80 SPS)
NOISE_V = {10: 50e-9, 80: 90e-9}
FULL_SCALE = 1 << 23


class Config(Enum):
    """What a read's pulse count selects for the next conversion: (pulses, channel, gain)."""

    A128 = (25, "A", 128)
    B32 = (26, "B", 32)
    A64 = (27, "A", 64)

    @property
    def pulses(self) -> int:
        return self.value[0]

    @property
    def channel(self) -> str:
        return self.value[1]

    @property
    def gain(self) -> int:
        return self.value[2]


_BY_PULSES = {config.pulses: config for config in Config}

# The differential input in volts on a channel ("A" or "B") at a time in ns.
InputVolts = Callable[[str, int], float]


@dataclass
class ChipStats:
    conversions_read: int = 0
    power_downs: int = 0
    serial_errors: int = 0


class Hx711Chip:
    def __init__(
        self,
        input_volts: InputVolts,
        rate_sps: int = 10,
        avdd: float = 5.0,
        seed: int = 0,
        clock: Callable[[], int] = time.perf_counter_ns,
    ) -> None:
        if rate_sps not in PERIOD_NS:
            raise ValueError("the HX711 converts at 10 or 80 samples per second")
        self._input = input_volts
        self._rate = rate_sps
        self._avdd = avdd
        self._rng = random.Random(seed)
        self._clock = clock
        self.stats = ChipStats()
        self._sck = False
        self._sck_rose = 0
        self._powered = True
        self._reset(clock())

    @property
    def config(self) -> Config:
        """The channel and gain of the conversions now running."""
        self._settle_pending_read(self._clock())
        return self._config

    # -- timeline ---------------------------------------------------------------------------

    def _reset(self, t: int) -> None:
        self._config = Config.A128
        self._restart(t)

    def _restart(self, t: int) -> None:
        """Conversions start again: the first is ready after the settling time."""
        self._epoch = t + SETTLING_NS[self._rate]
        self._consumed = -1
        self._pulses = 0
        self._latched: int | None = None
        self._latched_index = -1

    def _latest(self, t: int) -> int:
        """Index of the newest conversion ready at t, or -1 while settling."""
        if t < self._epoch:
            return -1
        return (t - self._epoch) // PERIOD_NS[self._rate]

    def _ready_at(self, index: int) -> int:
        return self._epoch + index * PERIOD_NS[self._rate]

    def _convert(self, index: int) -> int:
        """The 24-bit two's complement result of conversion `index`, input sampled when it completed."""
        t = self._ready_at(index)
        volts = self._input(self._config.channel, t)
        volts += self._rng.gauss(0.0, NOISE_V[self._rate] * 128 / self._config.gain)
        span = 0.5 * self._avdd / self._config.gain
        counts = round(volts / span * FULL_SCALE)
        counts = max(-FULL_SCALE, min(FULL_SCALE - 1, counts))
        return counts & 0xFFFFFF

    def _settle_pending_read(self, t: int) -> None:
        """A read ends when the next conversion completes: its pulse count then takes effect."""
        if self._pulses == 0 or t < self._ready_at(self._latched_index + 1):
            return
        chosen = _BY_PULSES.get(self._pulses)
        self._consumed = self._latched_index
        self._pulses = 0
        if chosen is None:
            self.stats.serial_errors += 1
            return
        self.stats.conversions_read += 1
        if chosen is not self._config:
            self._config = chosen
            self._restart(self._ready_at(self._latched_index + 1))

    def _check_power(self, t: int) -> None:
        if self._sck and self._powered and t - self._sck_rose > POWER_DOWN_NS:
            self._powered = False
            self.stats.power_downs += 1

    # -- pins -------------------------------------------------------------------------------

    def sck(self, high: bool) -> None:
        t = self._clock()
        self._check_power(t)
        if high == self._sck:
            return
        if high:
            self._sck, self._sck_rose = True, t
            if not self._powered:
                return
            self._settle_pending_read(t)
            if self._pulses == 0:
                latest = self._latest(t)
                if latest <= self._consumed:
                    self.stats.serial_errors += 1  # clocked while no data was ready
                    return
                self._latched_index = latest
                self._latched = self._convert(latest)
            self._pulses += 1
            return
        self._sck = False
        if not self._powered:
            self._powered = True
            self._reset(t)

    def dout(self) -> int:
        t = self._clock()
        self._check_power(t)
        if not self._powered:
            return 1
        self._settle_pending_read(t)
        if self._pulses:
            if self._pulses > 24 or self._latched is None:
                return 1
            return (self._latched >> (24 - self._pulses)) & 1
        return 0 if self._latest(t) > self._consumed else 1

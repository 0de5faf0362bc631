"""A stand-in for the `RPi.GPIO` module, wired to simulated chips, so that real drivers such
as the `hx711` package from PyPI run against simulated hardware unchanged.

`install(board)` puts this module in `sys.modules` as `RPi.GPIO`; drivers then import it as
they would on a Pi. Pins not wired to anything read low.
"""

import sys
import time
import types
from dataclasses import dataclass, field

from hw.sim.hx711 import Hx711Chip
from hw.sim.virtual_time import VirtualTime

BCM = 11
BOARD = 10
OUT = 0
IN = 1
LOW = 0
HIGH = 1
PUD_OFF = 20
PUD_DOWN = 21
PUD_UP = 22
RPI_INFO = {"P1_REVISION": 3, "TYPE": "simulated"}
VERSION = "simulated"


@dataclass
class ClockHold:
    """A fault: a driver preempted for `seconds` on the `edge`-th pulse of `pin`.

    After the rising edge, the chip sees the clock high all that time (it powers down past
    60 us). After the falling edge, the chip sees a short pulse but the driver's own timing
    of the pulse is long: a driver that then assumes the chip reset is out of step with it.
    """

    pin: int
    edge: int
    seconds: float
    after_falling: bool = False
    seen: int = 0


@dataclass
class SimBoard:
    """Which chips hang on which pins. Several chips may share one clock pin.

    On `time`, each GPIO call and each injected hold passes virtual time (give the chips and
    the driver the same clock); without it, they take the real time they take.
    """

    clocks: dict[int, list[Hx711Chip]] = field(default_factory=dict)
    data: dict[int, Hx711Chip] = field(default_factory=dict)
    levels: dict[int, int] = field(default_factory=dict)
    holds: list[ClockHold] = field(default_factory=list)
    time: VirtualTime | None = None

    def attach_hx711(self, chip: Hx711Chip, dout_pin: int, sck_pin: int) -> None:
        self.clocks.setdefault(sck_pin, []).append(chip)
        self.data[dout_pin] = chip

    def hold_clock_high(self, pin: int, edge: int, seconds: float) -> ClockHold:
        hold = ClockHold(pin, edge, seconds)
        self.holds.append(hold)
        return hold

    def stall_after_pulse(self, pin: int, edge: int, seconds: float) -> ClockHold:
        hold = ClockHold(pin, edge, seconds, after_falling=True)
        self.holds.append(hold)
        return hold

    def unplug(self, dout_pin: int) -> None:
        """The chip's data line disconnected: the Pi's pull-up reads it high, never ready."""
        self.data.pop(dout_pin, None)
        self.levels[dout_pin] = HIGH

    def drive(self, pin: int, level: int) -> None:
        self._gpio_call()
        previous = self.levels.get(pin, LOW)
        self.levels[pin] = HIGH if level else LOW
        for chip in self.clocks.get(pin, []):
            chip.sck(bool(level))
        if level and not previous:
            for hold in self.holds:
                if hold.pin == pin:
                    hold.seen += 1
                    if hold.seen == hold.edge and not hold.after_falling:
                        self._sleep(hold.seconds)
        if previous and not level:
            for hold in self.holds:
                if hold.pin == pin and hold.after_falling and hold.seen == hold.edge:
                    hold.seen += 1  # fire once
                    self._sleep(hold.seconds)

    def sense(self, pin: int) -> int:
        self._gpio_call()
        chip = self.data.get(pin)
        return chip.dout() if chip is not None else self.levels.get(pin, LOW)

    def _gpio_call(self) -> None:
        if self.time is not None:
            self.time.gpio_call()

    def _sleep(self, seconds: float) -> None:
        (self.time.sleep if self.time is not None else time.sleep)(seconds)


_board = SimBoard()
_mode: int | None = None
_directions: dict[int, int] = {}


def install(board: SimBoard) -> SimBoard:
    """Make `import RPi.GPIO` give this module, driving `board`."""
    global _board, _mode
    _board, _mode = board, None
    _directions.clear()
    package = types.ModuleType("RPi")
    package.GPIO = sys.modules[__name__]  # type: ignore[attr-defined]
    sys.modules["RPi"] = package
    sys.modules["RPi.GPIO"] = sys.modules[__name__]
    return board


def setmode(mode: int) -> None:
    global _mode
    if mode not in (BCM, BOARD):
        raise ValueError("An invalid mode was passed to setmode()")
    _mode = mode


def getmode() -> int | None:
    return _mode


def setwarnings(flag: bool) -> None:
    del flag


def setup(channel: int | list[int], direction: int, pull_up_down: int = PUD_OFF, initial: int = -1) -> None:
    if _mode is None:
        raise RuntimeError("Please set pin numbering mode using GPIO.setmode(GPIO.BOARD) or GPIO.setmode(GPIO.BCM)")
    for pin in channel if isinstance(channel, list) else [channel]:
        _directions[pin] = direction
        if direction == OUT and initial != -1:
            _board.drive(pin, initial)


def output(channel: int, value: int | bool) -> None:
    if _directions.get(channel) != OUT:
        raise RuntimeError("The GPIO channel has not been set up as an OUTPUT")
    _board.drive(channel, int(bool(value)))


def input(channel: int) -> int:  # noqa: A001 - the RPi.GPIO name
    if channel not in _directions:
        raise RuntimeError("You must setup() the GPIO channel first")
    return _board.sense(channel)


def cleanup(channel: int | list[int] | None = None) -> None:
    pins = list(_directions) if channel is None else channel if isinstance(channel, list) else [channel]
    for pin in pins:
        _directions.pop(pin, None)

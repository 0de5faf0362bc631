"""The real `hx711` package from PyPI, unchanged, against the simulated chip behind the fake RPi.GPIO.

The package times its own clock pulses and the chip powers down on a long one, so both run on
one virtual clock: the host's load cannot preempt them, and the one preemption tested is the
one the test injects. Real-time preemption of a driver is the gpio source's concern
(edge/shelf/gpio_source.py and its tests).
"""

import importlib
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest

from hw.sim import rpi_gpio
from hw.sim.hx711 import FULL_SCALE, Hx711Chip
from hw.sim.rpi_gpio import SimBoard
from hw.sim.virtual_time import VirtualTime

DOUT, SCK = 5, 6
VOLTS_A, VOLTS_B = 0.004, 0.01


def counts(volts: float, gain: int) -> int:
    return round(volts / (2.5 / gain) * FULL_SCALE)


@pytest.fixture
def rig() -> Iterator[tuple[SimBoard, Hx711Chip, ModuleType]]:
    clock = VirtualTime()
    board = rpi_gpio.install(SimBoard(time=clock))
    chip = Hx711Chip(
        lambda channel, t: VOLTS_A if channel == "A" else VOLTS_B,
        rate_sps=80,
        seed=7,
        clock=clock.perf_counter_ns,
    )
    board.attach_hx711(chip, DOUT, SCK)
    sys.modules.pop("hx711", None)
    hx711 = importlib.import_module("hx711")
    # The package's `import time` is its clock: it gets the board's.
    hx711.time = clock  # type: ignore[attr-defined]
    try:
        yield board, chip, hx711
    finally:
        for name in ("hx711", "RPi", "RPi.GPIO"):
            sys.modules.pop(name, None)


# The package retries a chip that never answers for ever: wrong wiring ends in this timeout.
@pytest.mark.timeout(30)
def test_the_package_reads_each_channel_and_gain(rig: tuple[SimBoard, Hx711Chip, ModuleType]) -> None:
    board, chip, hx711 = rig
    scale = hx711.HX711(dout_pin=DOUT, pd_sck_pin=SCK, gain=128, channel="A")
    a128 = scale.get_raw_data(5)
    scale.channel_a_gain = 64
    a64 = scale.get_raw_data(5)
    scale.channel = "B"
    b32 = scale.get_raw_data(5)
    assert all(abs(v - counts(VOLTS_A, 128)) < 400 for v in a128), a128
    assert all(abs(v - counts(VOLTS_A, 64)) < 400 for v in a64), a64
    assert all(abs(v - counts(VOLTS_B, 32)) < 800 for v in b32), b32
    assert chip.config.channel == "B"
    assert chip.stats.power_downs == 0


def test_a_clock_held_high_mid_read_powers_the_chip_down_and_the_package_rejects_the_read(
    rig: tuple[SimBoard, Hx711Chip, ModuleType],
) -> None:
    """A driver preempted mid-way through the 24 bits holds the clock high for 200 us."""
    board, chip, hx711 = rig
    scale = hx711.HX711(dout_pin=DOUT, pd_sck_pin=SCK, gain=128, channel="A")
    downs = chip.stats.power_downs
    hold = board.hold_clock_high(SCK, edge=9, seconds=0.0002)
    result = scale._read()  # noqa: SLF001 - the package's own per-read validation
    assert hold.seen >= hold.edge
    assert result is False
    assert chip.stats.power_downs == downs + 1

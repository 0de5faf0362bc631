"""The real `hx711` package from PyPI, unchanged, against the simulated chip behind the fake RPi.GPIO."""

import importlib
import statistics
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest

from hw.sim import rpi_gpio
from hw.sim.hx711 import FULL_SCALE, Hx711Chip
from hw.sim.rpi_gpio import SimBoard

DOUT, SCK = 5, 6
VOLTS_A, VOLTS_B = 0.004, 0.01


def counts(volts: float, gain: int) -> int:
    return round(volts / (2.5 / gain) * FULL_SCALE)


@pytest.fixture
def rig() -> Iterator[tuple[SimBoard, Hx711Chip, ModuleType]]:
    board = rpi_gpio.install(SimBoard())
    chip = Hx711Chip(lambda channel, t: VOLTS_A if channel == "A" else VOLTS_B, rate_sps=80, seed=7)
    board.attach_hx711(chip, DOUT, SCK)
    sys.modules.pop("hx711", None)
    yield board, chip, importlib.import_module("hx711")
    for name in ("hx711", "RPi", "RPi.GPIO"):
        sys.modules.pop(name, None)


def test_the_package_reads_each_channel_and_gain(rig: tuple[SimBoard, Hx711Chip, ModuleType]) -> None:
    """The package runs unchanged. Only medians are checked: on a busy machine the package
    itself can return a misaligned word after a pulse it timed as long (see edge/shelf/gpio_source.py)."""
    _, chip, hx711 = rig
    scale = hx711.HX711(dout_pin=DOUT, pd_sck_pin=SCK, gain=128, channel="A")
    assert abs(statistics.median(scale.get_raw_data(5)) - counts(VOLTS_A, 128)) < 400
    scale.channel_a_gain = 64
    assert abs(statistics.median(scale.get_raw_data(5)) - counts(VOLTS_A, 64)) < 400
    scale.channel = "B"
    assert abs(statistics.median(scale.get_raw_data(5)) - counts(VOLTS_B, 32)) < 800
    assert chip.stats.conversions_read >= 15


def test_a_clock_held_high_mid_read_powers_the_chip_down_and_the_package_rejects_the_read(
    rig: tuple[SimBoard, Hx711Chip, ModuleType],
) -> None:
    board, chip, hx711 = rig
    scale = hx711.HX711(dout_pin=DOUT, pd_sck_pin=SCK, gain=128, channel="A")
    downs = chip.stats.power_downs
    board.hold_clock_high(SCK, edge=9, seconds=0.0002)  # a preempted driver, mid-way through the 24 bits
    assert scale._read() is False  # noqa: SLF001 - the package's own per-read validation
    assert chip.stats.power_downs >= downs + 1

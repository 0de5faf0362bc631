"""The real `hx711` package from PyPI, unchanged, against the simulated chip behind the fake RPi.GPIO."""

import gc
import importlib
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest

from hw.sim import rpi_gpio
from hw.sim.hx711 import FULL_SCALE, Hx711Chip
from hw.sim.rpi_gpio import SimBoard

DOUT, SCK = 5, 6
VOLTS_A, VOLTS_B = 0.004, 0.01
TRIES = 10


def counts(volts: float, gain: int) -> int:
    return round(volts / (2.5 / gain) * FULL_SCALE)


@pytest.fixture
def rig() -> Iterator[tuple[SimBoard, Hx711Chip, ModuleType]]:
    board = rpi_gpio.install(SimBoard())
    chip = Hx711Chip(lambda channel, t: VOLTS_A if channel == "A" else VOLTS_B, rate_sps=80, seed=7)
    board.attach_hx711(chip, DOUT, SCK)
    sys.modules.pop("hx711", None)
    # A collector pause or another thread taking the interpreter mid-pulse desynchronises the
    # bare package (see edge/shelf/gpio_source.py, whose tests cover that fault); these tests are
    # about the wiring, so they run without either (threads left by earlier tests included).
    gc.disable()
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1.0)
    try:
        yield board, chip, importlib.import_module("hx711")
    finally:
        sys.setswitchinterval(switch)
        gc.enable()
        for name in ("hx711", "RPi", "RPi.GPIO"):
            sys.modules.pop(name, None)


def _reads_each_channel_and_gain(hx711: ModuleType, chip: Hx711Chip) -> bool:
    """Each setting yields its right count at least once: proof of the wiring, which is what
    this checks (staying in step under load is the gpio source's job)."""
    scale = hx711.HX711(dout_pin=DOUT, pd_sck_pin=SCK, gain=128, channel="A")
    a128 = scale.get_raw_data(5)
    scale.channel_a_gain = 64
    a64 = scale.get_raw_data(5)
    scale.channel = "B"
    b32 = scale.get_raw_data(5)
    return (
        any(abs(v - counts(VOLTS_A, 128)) < 400 for v in a128)
        and any(abs(v - counts(VOLTS_A, 64)) < 400 for v in a64)
        and any(abs(v - counts(VOLTS_B, 32)) < 800 for v in b32)
        and chip.config.channel == "B"
    )


def test_the_package_reads_each_channel_and_gain(rig: tuple[SimBoard, Hx711Chip, ModuleType]) -> None:
    """The package runs unchanged and selects channel and gain on the chip. The OS may preempt
    it mid-pulse, and the package then loses step with the chip for good (the fault
    edge/shelf/gpio_source.py guards against, and tests with injected faults), so a fresh
    chip and driver get up to ten tries (a loaded CI machine has failed three in a row);
    wrong wiring fails every one."""
    board, chip, hx711 = rig
    for _ in range(TRIES):
        if _reads_each_channel_and_gain(hx711, chip):
            return
        chip = Hx711Chip(lambda channel, t: VOLTS_A if channel == "A" else VOLTS_B, rate_sps=80, seed=7)
        board.attach_hx711(chip, DOUT, SCK)
        board.clocks[SCK] = [chip]
    raise AssertionError(f"the package never read the right counts in {TRIES} tries")


def test_a_clock_held_high_mid_read_powers_the_chip_down_and_the_package_rejects_the_read(
    rig: tuple[SimBoard, Hx711Chip, ModuleType],
) -> None:
    """The package gives up a read on any pulse it timed at 60 us or more, so on a loaded machine
    a real preemption may end the read before the held edge: such a try does not count, and
    the read is tried again (up to ten times) until it reaches the hold."""
    board, chip, hx711 = rig
    scale = hx711.HX711(dout_pin=DOUT, pd_sck_pin=SCK, gain=128, channel="A")
    for _ in range(TRIES):
        downs = chip.stats.power_downs
        # a preempted driver, mid-way through the 24 bits
        hold = board.hold_clock_high(SCK, edge=9, seconds=0.0002)
        result = scale._read()  # noqa: SLF001 - the package's own per-read validation
        board.holds.remove(hold)
        if hold.seen >= hold.edge:
            break
    else:
        raise AssertionError(f"the package never clocked as far as the held edge in {TRIES} tries")
    assert result is False
    assert chip.stats.power_downs >= downs + 1

"""The `gpio` sample source over the real `hx711` package, the fake RPi.GPIO and the HX711
model: every value it returns is right, whatever the driver's timing does.

Package, chips and source run on one virtual clock (hw/sim/virtual_time.py), so the faults
are the ones each test injects, the same on a loaded machine as on an idle one."""

import importlib
import sys
import time
from collections.abc import Iterator

import pytest

from edge.shelf.gpio_source import GpioShelf, Hx711Gpio
from hw.sim import rpi_gpio
from hw.sim.hx711 import FULL_SCALE, Hx711Chip
from hw.sim.rpi_gpio import SimBoard
from hw.sim.virtual_time import VirtualTime

DOUT, SCK = 5, 6
VOLTS = 0.004
EXPECTED = round(VOLTS / (2.5 / 128) * FULL_SCALE)
TOLERANCE = 400  # noise at 80 SPS is ~38 counts rms


@pytest.fixture
def rig() -> Iterator[tuple[SimBoard, Hx711Chip]]:
    clock = VirtualTime()
    board = rpi_gpio.install(SimBoard(time=clock))
    chip = Hx711Chip(
        lambda channel, t: VOLTS if channel == "A" else 0.0, rate_sps=80, seed=11, clock=clock.perf_counter_ns
    )
    board.attach_hx711(chip, DOUT, SCK)
    sys.modules.pop("hx711", None)
    importlib.import_module("hx711").time = clock  # type: ignore[attr-defined]
    yield board, chip
    for name in ("hx711", "RPi", "RPi.GPIO"):
        sys.modules.pop(name, None)


def on_board_time(board: SimBoard, dout: int = DOUT, sck: int = SCK, **settings: float) -> Hx711Gpio:
    assert board.time is not None
    return Hx711Gpio(dout, sck, rate_sps=80, clock=board.time.perf_counter, sleep=board.time.sleep, **settings)


def collect(source: Hx711Gpio, count: int, limit_s: float = 10.0) -> list[int]:
    values: list[int] = []
    deadline = time.monotonic() + limit_s
    while len(values) < count and time.monotonic() < deadline:
        value = source.read()
        if value is not None:
            values.append(value)
    return values


def assert_all_right(values: list[int]) -> None:
    wrong = [v for v in values if abs(v - EXPECTED) > TOLERANCE]
    assert not wrong, f"wrong weights returned as valid: {wrong}"


def test_reads_are_validated_counts(rig: tuple[SimBoard, Hx711Chip]) -> None:
    board, _ = rig
    source = on_board_time(board)
    values = collect(source, 10)
    assert len(values) == 10
    assert_all_right(values)


def test_a_clock_held_high_mid_read_is_rejected_and_never_a_wrong_weight(rig: tuple[SimBoard, Hx711Chip]) -> None:
    board, chip = rig
    source = on_board_time(board)
    collect(source, 2)
    downs = chip.stats.power_downs
    board.hold_clock_high(SCK, edge=9, seconds=0.0002)
    values = collect(source, 10)
    assert chip.stats.power_downs >= downs + 1
    assert source.stats.rejected >= 1 and source.stats.resyncs >= 1
    assert len(values) == 10
    assert_all_right(values)


def test_a_driver_stall_the_chip_did_not_see_is_resynchronised_not_misread(rig: tuple[SimBoard, Hx711Chip]) -> None:
    board, _ = rig
    source = on_board_time(board)
    collect(source, 2)
    for nth in (30, 90, 150):  # the driver times these pulses as long; the chip saw them short
        board.stall_after_pulse(SCK, edge=nth, seconds=0.0002)
    values = collect(source, 20)
    # A stall on a read's 25th (gain) pulse takes another path in the package and need not
    # be rejected; which pulse each stall hits shifts with resyncs. Values are what matter.
    assert source.stats.rejected >= 1
    assert len(values) == 20
    assert_all_right(values)


def test_an_unplugged_chip_times_out_instead_of_hanging(rig: tuple[SimBoard, Hx711Chip]) -> None:
    board, chip = rig
    source = on_board_time(board, ready_timeout_s=0.2)
    collect(source, 2)
    board.unplug(DOUT)
    assert board.time is not None
    started, virtual = time.monotonic(), board.time.perf_counter()
    assert source.read() is None
    assert 0.2 <= board.time.perf_counter() - virtual < 0.3, "it waited its timeout, and no longer"
    assert time.monotonic() - started < 1.0
    assert source.stats.timeouts == 1
    board.attach_hx711(chip, DOUT, SCK)
    values = collect(source, 5)
    assert len(values) == 5
    assert_all_right(values)


def test_the_shelf_of_gpio_lanes_reads_every_lane(rig: tuple[SimBoard, Hx711Chip]) -> None:
    board, _ = rig
    clock = board.time
    assert clock is not None
    second = Hx711Chip(
        lambda channel, t: 2 * VOLTS if channel == "A" else 0.0, rate_sps=80, seed=12, clock=clock.perf_counter_ns
    )
    board.attach_hx711(second, 7, 8)
    shelf = GpioShelf({0: (DOUT, SCK), 1: (7, 8)}, rate_sps=80, clock=clock.perf_counter, sleep=clock.sleep)
    settled = []
    for _ in range(60):  # settling reads are None
        reading = shelf.read()
        if None not in reading.counts.values():
            settled.append(reading)
        if len(settled) == 6:
            break
    assert len(settled) == 6
    assert all(abs(r.counts[0] - EXPECTED) < TOLERANCE for r in settled)  # type: ignore[operator]
    assert all(abs(r.counts[1] - 2 * EXPECTED) < TOLERANCE for r in settled)  # type: ignore[operator]

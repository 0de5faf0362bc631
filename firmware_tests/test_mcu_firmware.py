"""The RP2040 firmware (edge/mcu/main.py) on the MicroPython unix port, with simulated
HX711s behind a simulated `machine` module, its USB serial a pty, read by the real `mcu`
source: frames, commands, a void read after a stalled clock, a dead chip, the rate switch,
and the board unplugged and plugged back."""

import itertools
import statistics
import time

from edge.shelf.mcu_source import McuShelf
from edge.shelf.sources import RawReading
from firmware_tests.conftest import FIRMWARE_BASE as BASE
from firmware_tests.conftest import FirmwareBoard


def readings(source: McuShelf, count: int) -> list[RawReading]:
    return [source.read() for _ in range(count)]


def near(value: int | None, expected: int) -> bool:
    return value is not None and abs(value - expected) <= 64


def voided(reading: RawReading) -> bool:
    """A read the firmware voided: on a PC the OS may preempt it mid-pulse (on the board,
    interrupts are off), and the firmware then sends no counts rather than wrong ones."""
    return all(value is None for value in reading.counts.values())


def test_the_firmware_streams_each_channel_and_answers_commands(firmware: FirmwareBoard) -> None:
    link = firmware.plug(steps=[[1_000, 1, 300_000]])
    source = McuShelf(str(link), [0, 1, 2, 3], rate_sps=80)
    first = [r for r in readings(source, 10) if not voided(r)]
    assert len(first) >= 7
    assert all(near(r.counts[0], BASE[0]) and near(r.counts[3], BASE[3]) for r in first)
    assert source.ask("id").startswith("id rp2040 e6614c")
    assert source.ask("channels") == "channels 4"
    later = readings(source, 120)
    assert any(near(r.counts[1], BASE[1] + 300_000) for r in later), "the step on channel 1 came through"
    assert source.stats.garbage == 0 and source.stats.dropped == 0
    assert [r.t_ms for r in later] == sorted(r.t_ms for r in later)
    source.close()


def test_a_stalled_clock_voids_that_read_and_never_yields_a_wrong_count(firmware: FirmwareBoard) -> None:
    source = McuShelf(str(firmware.plug(stall_at_read=20)), [0, 1, 2, 3], rate_sps=80)
    got = readings(source, 80)
    voided = [r for r in got if all(v is None for v in r.counts.values())]
    assert len(voided) >= 1
    for r in got:
        for lane, value in r.counts.items():
            assert value is None or near(value, BASE[lane]), f"lane {lane} read {value}"
    source.close()


def test_a_dead_chip_does_not_hold_back_the_others(firmware: FirmwareBoard) -> None:
    source = McuShelf(str(firmware.plug(dead=[2])), [0, 1, 2, 3], rate_sps=80)
    got = readings(source, 60)
    assert all(r.counts[2] is None for r in got)
    assert all(near(r.counts[0], BASE[0]) for r in got if not voided(r))
    assert sum(near(r.counts[0], BASE[0]) for r in got) >= 50
    source.close()


def frame_spacing_ms(source: McuShelf, count: int) -> float:
    times = [r.t_ms for r in readings(source, count) if not voided(r)]
    return statistics.median(b - a for a, b in itertools.pairwise(times))


def test_the_rate_command_switches_the_chips_between_10_and_80_sps(firmware: FirmwareBoard) -> None:
    source = McuShelf(str(firmware.plug()), [0, 1, 2, 3], rate_sps=10)
    assert 90 <= frame_spacing_ms(source, 12) <= 150
    assert source.ask("rate 80") == "ok rate 80"
    readings(source, 5)  # frames sent before the switch
    assert frame_spacing_ms(source, 40) <= 40
    assert source.ask("rate 20") == "err unknown command rate 20"
    source.close()


def test_a_board_unplugged_and_plugged_back_is_read_again_at_the_configured_rate(firmware: FirmwareBoard) -> None:
    source = McuShelf(str(firmware.plug()), [0, 1, 2, 3], rate_sps=80, reopen_s=0.1, silent_s=0.5)
    assert sum(near(r.counts[0], BASE[0]) for r in readings(source, 20)) >= 10
    firmware.unplug()
    started = time.monotonic()
    while not voided(source.read()):  # frames already received
        assert time.monotonic() - started < 30, "read must not hang on a missing board"
    assert source.stats.missing >= 1
    firmware.plug()  # boots afresh, at 10 SPS until told otherwise
    deadline = time.monotonic() + 30
    while not near(source.read().counts[0], BASE[0]):
        assert time.monotonic() < deadline, "the board was not picked up again"
    readings(source, 5)
    assert frame_spacing_ms(source, 40) <= 40, "the rebooted board was not set to the configured 80 SPS"
    source.close()

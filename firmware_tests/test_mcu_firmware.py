"""The RP2040 firmware (edge/mcu/main.py) on the MicroPython unix port, with simulated
HX711s behind a simulated `machine` module, its USB serial a pty, read by the real `mcu`
source: frames, commands, a void read after a stalled clock, and a dead chip."""

from edge.shelf.mcu_source import McuShelf
from edge.shelf.sources import RawReading
from firmware_tests.conftest import FIRMWARE_BASE as BASE


def readings(source: McuShelf, count: int) -> list[RawReading]:
    return [source.read() for _ in range(count)]


def near(value: int | None, expected: int) -> bool:
    return value is not None and abs(value - expected) <= 64


def voided(reading: RawReading) -> bool:
    """A read the firmware voided: on a PC the OS may preempt it mid-pulse (on the board,
    interrupts are off), and the firmware then sends no counts rather than wrong ones."""
    return all(value is None for value in reading.counts.values())


def test_the_firmware_streams_each_channel_and_answers_commands(firmware) -> None:  # type: ignore[no-untyped-def]
    start, _ = firmware
    link = start(steps=[[1_000, 1, 300_000]])
    source = McuShelf(str(link), [0, 1, 2, 3])
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


def test_a_stalled_clock_voids_that_read_and_never_yields_a_wrong_count(firmware) -> None:  # type: ignore[no-untyped-def]
    start, _ = firmware
    source = McuShelf(str(start(stall_at_read=20)), [0, 1, 2, 3])
    got = readings(source, 80)
    voided = [r for r in got if all(v is None for v in r.counts.values())]
    assert len(voided) >= 1
    for r in got:
        for lane, value in r.counts.items():
            assert value is None or near(value, BASE[lane]), f"lane {lane} read {value}"
    source.close()


def test_a_dead_chip_does_not_hold_back_the_others(firmware) -> None:  # type: ignore[no-untyped-def]
    start, _ = firmware
    source = McuShelf(str(start(dead=[2])), [0, 1, 2, 3])
    got = readings(source, 60)
    assert all(r.counts[2] is None for r in got)
    assert all(near(r.counts[0], BASE[0]) for r in got if not voided(r))
    assert sum(near(r.counts[0], BASE[0]) for r in got) >= 50
    source.close()

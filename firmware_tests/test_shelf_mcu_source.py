"""The `mcu` source over a real pseudo-terminal, against the simulated RP2040 board: frames,
commands, garbage on the line, and the board unplugged and plugged back."""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.shelf.mcu_source import BoardTimeout, McuShelf
from hw.sim.mcu_board import SimMcuBoard

LANES = [0, 1, 2]


def counts(t: float) -> list[int | None]:
    return [100_000, -5_000 + int(t * 10), None]


@pytest.fixture
def board(tmp_path: Path) -> Iterator[SimMcuBoard]:
    sim = SimMcuBoard(tmp_path / "shelf-board", counts, rate_sps=80).plug()
    yield sim
    sim.unplug()


def test_frames_become_readings_on_the_node_clock(board: SimMcuBoard) -> None:
    source = McuShelf(str(board.link), LANES)
    before = time.time_ns() // 1_000_000
    readings = [source.read() for _ in range(20)]
    after = time.time_ns() // 1_000_000
    assert all(r.counts[0] == 100_000 and r.counts[2] is None for r in readings)
    assert [r.t_ms for r in readings] == sorted(r.t_ms for r in readings)
    assert before - 100 <= readings[0].t_ms <= after
    assert source.stats.frames == 20 and source.stats.dropped == 0
    source.close()


def test_commands_are_answered(board: SimMcuBoard) -> None:
    source = McuShelf(str(board.link), LANES)
    assert source.ask("id") == "id rp2040 sim fw 1"
    assert source.ask("channels") == "channels 3"
    assert source.ask("selftest") == "selftest fail channels [2]"
    assert source.ask("rate 10") == "ok rate 10" and board.rate_sps == 10
    assert source.ask("bogus").startswith("err")
    source.close()


def test_garbage_and_truncated_frames_are_dropped_and_the_stream_goes_on(board: SimMcuBoard) -> None:
    source = McuShelf(str(board.link), LANES)
    source.read()
    board.inject(b"\x00\xff\xfe noise from a bad cable \r\n")
    board.inject(b"S,1,2,3,4")  # a frame cut short: the next frame's start joins it, and both fail
    readings = [source.read() for _ in range(20)]
    assert source.stats.garbage >= 2
    assert sum(r.counts[0] == 100_000 for r in readings) >= 18
    source.close()


def test_an_unplugged_board_is_reported_and_picked_up_again_when_it_returns(board: SimMcuBoard) -> None:
    source = McuShelf(str(board.link), LANES, reopen_s=0.1, silent_s=0.5)
    source.read()
    board.unplug()
    started = time.monotonic()
    while any(value is not None for value in source.read().counts.values()):  # frames already received
        assert time.monotonic() - started < 30, "read must not hang on a missing board"
    assert time.monotonic() - started < 30
    assert source.stats.missing >= 1
    with pytest.raises(BoardTimeout):
        source.ask("id")
    board.plug()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if source.read().counts[0] == 100_000:
            break
    else:
        raise AssertionError("the board was not picked up again")
    assert source.ask("id").startswith("id rp2040")
    source.close()

"""gateway/clock.py: the offset estimate is the minimum of a sliding window of recent samples."""

from gateway.clock import ClockOffset


def test_no_sample_no_offset() -> None:
    clock = ClockOffset()
    assert clock.offset_ms is None
    assert clock.to_gateway_time(1_000) == 1_000


def test_offset_is_the_minimum_of_recent_samples() -> None:
    clock = ClockOffset(window=8)
    for sent, recv in [(1_000, 1_050), (2_000, 2_020), (3_000, 3_300), (4_000, 4_035)]:
        clock.add(sent, recv)
    assert clock.offset_ms == 20


def test_negative_offset_for_a_clock_that_runs_ahead() -> None:
    clock = ClockOffset()
    clock.add(5_000, 4_900)
    clock.add(6_000, 5_950)
    assert clock.offset_ms == -100
    assert clock.to_gateway_time(10_000) == 9_900


def test_window_slides_and_an_old_small_sample_drops_out() -> None:
    clock = ClockOffset(window=3)
    clock.add(0, 5)
    clock.add(0, 40)
    clock.add(0, 30)
    assert clock.offset_ms == 5
    clock.add(0, 50)
    assert clock.offset_ms == 30
    clock.add(0, 60)
    clock.add(0, 70)
    assert clock.offset_ms == 50


def test_copy_is_independent() -> None:
    clock = ClockOffset(window=4)
    clock.add(100, 150)
    twin = clock.copy()
    assert twin.window == 4
    assert twin.offset_ms == 50
    twin.add(100, 110)
    assert twin.offset_ms == 10
    assert clock.offset_ms == 50
    clock.add(100, 101)
    assert clock.offset_ms == 1
    assert twin.offset_ms == 10


def test_copy_keeps_the_window_sliding_the_same_way() -> None:
    clock = ClockOffset(window=2)
    clock.add(0, 1)
    clock.add(0, 9)
    twin = clock.copy()
    twin.add(0, 8)
    assert twin.offset_ms == 8


def test_to_gateway_time_adds_the_offset() -> None:
    clock = ClockOffset()
    clock.add(1_700_000_000_000, 1_700_000_000_250)
    assert clock.to_gateway_time(1_700_000_001_000) == 1_700_000_001_250


def test_zero_offset_leaves_time_unchanged() -> None:
    clock = ClockOffset()
    clock.add(500, 500)
    assert clock.offset_ms == 0
    assert clock.to_gateway_time(7_777) == 7_777

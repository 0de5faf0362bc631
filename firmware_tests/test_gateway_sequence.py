"""gateway/sequence.py: NEW / IN_WINDOW / OLD classification, state currency, and accept."""

import pytest

from gateway.sequence import Sequencing, Verdict


def tracked(window: int = 10, high: tuple[int, int] = (3, 100), newest_boot: int | None = None) -> Sequencing:
    return Sequencing(window, {"d1": high}, {"d1": high[0] if newest_boot is None else newest_boot})


def test_unknown_device_is_new() -> None:
    assert Sequencing().classify_event("d1", 1, 1) is Verdict.NEW


def test_default_window_is_1024() -> None:
    sequencing = Sequencing(high={"d1": (1, 2000)})
    assert sequencing.classify_event("d1", 1, 2000 - 1023) is Verdict.IN_WINDOW
    assert sequencing.classify_event("d1", 1, 2000 - 1024) is Verdict.OLD


@pytest.mark.parametrize(("boot", "seq"), [(3, 101), (3, 5000), (4, 1), (9, 1)])
def test_above_the_mark_is_new(boot: int, seq: int) -> None:
    assert tracked().classify_event("d1", boot, seq) is Verdict.NEW


@pytest.mark.parametrize("seq", [100, 99, 95, 91])
def test_within_the_window_on_the_same_boot(seq: int) -> None:
    assert tracked().classify_event("d1", 3, seq) is Verdict.IN_WINDOW


@pytest.mark.parametrize("seq", [90, 89, 50, 1])
def test_below_the_window_is_old(seq: int) -> None:
    assert tracked().classify_event("d1", 3, seq) is Verdict.OLD


@pytest.mark.parametrize(("boot", "seq"), [(2, 100), (2, 5000), (2, 1), (0, 1)])
def test_an_older_boot_is_old_whatever_its_seq(boot: int, seq: int) -> None:
    assert tracked().classify_event("d1", boot, seq) is Verdict.OLD


def test_marks_are_per_device() -> None:
    sequencing = tracked()
    assert sequencing.classify_event("d2", 1, 1) is Verdict.NEW
    assert sequencing.classify_event("d1", 1, 1) is Verdict.OLD


def test_state_is_current_rules() -> None:
    sequencing = tracked(newest_boot=3)
    assert sequencing.state_is_current("d1", 3)
    assert sequencing.state_is_current("d1", 4)
    assert not sequencing.state_is_current("d1", 2)
    assert sequencing.state_is_current("stranger", 0)
    assert sequencing.state_is_current("stranger", 1)


def test_accept_advances_the_mark() -> None:
    sequencing = Sequencing(window=10)
    sequencing.accept("d1", 1, 5)
    assert sequencing.high == {"d1": (1, 5)}
    assert sequencing.newest_boot == {"d1": 1}
    assert sequencing.classify_event("d1", 1, 5) is Verdict.IN_WINDOW
    assert sequencing.classify_event("d1", 1, 6) is Verdict.NEW


def test_accept_never_moves_the_mark_back() -> None:
    sequencing = tracked()
    sequencing.accept("d1", 3, 95)
    sequencing.accept("d1", 2, 500)
    assert sequencing.high["d1"] == (3, 100)
    assert sequencing.newest_boot["d1"] == 3


def test_accept_of_a_new_boot_moves_mark_and_newest_boot() -> None:
    sequencing = tracked()
    sequencing.accept("d1", 4, 1)
    assert sequencing.high["d1"] == (4, 1)
    assert sequencing.newest_boot["d1"] == 4
    assert sequencing.classify_event("d1", 3, 100) is Verdict.OLD
    assert not sequencing.state_is_current("d1", 3)


def test_accept_of_a_state_moves_only_the_newest_boot() -> None:
    sequencing = tracked()
    sequencing.accept("d1", 5, 0)
    assert sequencing.high["d1"] == (3, 100)
    assert sequencing.newest_boot["d1"] == 5
    assert not sequencing.state_is_current("d1", 4)


def test_accept_of_a_state_from_a_new_device_sets_no_mark() -> None:
    sequencing = Sequencing()
    sequencing.accept("d1", 2, 0)
    assert "d1" not in sequencing.high
    assert sequencing.newest_boot == {"d1": 2}
    assert sequencing.classify_event("d1", 2, 1) is Verdict.NEW


def test_window_slides_with_the_mark() -> None:
    sequencing = tracked()
    assert sequencing.classify_event("d1", 3, 95) is Verdict.IN_WINDOW
    sequencing.accept("d1", 3, 110)
    assert sequencing.classify_event("d1", 3, 95) is Verdict.OLD
    assert sequencing.classify_event("d1", 3, 101) is Verdict.IN_WINDOW

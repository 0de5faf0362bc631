"""Service mode: the PIN's hash, and the lockouts that rate-limit guessing."""

import pytest

from edge.protocol.diag import DiagError, ErrorCode
from edge.runtime.service_mode import (
    FREE_ATTEMPTS,
    IDLE_MS,
    LOCK_MS,
    MAX_LOCK_MS,
    SILENCE_MS,
    ServiceMode,
    hash_pin,
    lock_ms,
    pin_matches,
)

PIN = "31415926"


def test_the_hash_matches_its_pin_only() -> None:
    stored = hash_pin(PIN)
    assert stored.startswith(b"$argon2id$") and PIN.encode() not in stored
    assert pin_matches(stored, PIN)
    assert not pin_matches(stored, "31415927")
    assert not pin_matches(b"not a hash", PIN)
    with pytest.raises(ValueError):
        hash_pin("1234")


def test_locks_double_from_the_first_paid_attempt_up_to_an_hour() -> None:
    assert [lock_ms(n) for n in range(FREE_ATTEMPTS)] == [0] * FREE_ATTEMPTS
    assert lock_ms(FREE_ATTEMPTS) == LOCK_MS
    assert lock_ms(FREE_ATTEMPTS + 1) == 2 * LOCK_MS
    assert lock_ms(100) == MAX_LOCK_MS


def _mode(failures: int = 0) -> ServiceMode:
    mode = ServiceMode(lambda pin: pin == PIN, failures)
    mode.started(0)
    return mode


def _refused(mode: ServiceMode, pin: str, now: int) -> ErrorCode:
    with pytest.raises(DiagError) as refused:
        mode.enter(pin, now)
    return refused.value.code


def test_the_right_pin_enters_and_ends_the_count_of_wrong_ones() -> None:
    mode = _mode()
    assert _refused(mode, "00000000", 0) is ErrorCode.WRONG_PIN
    mode.enter(PIN, 10)
    assert mode.active(10) and mode.failures == 0


def test_guessing_locks_the_console_and_a_lock_refuses_even_the_right_pin() -> None:
    mode = _mode()
    for n in range(FREE_ATTEMPTS):
        assert _refused(mode, f"{n:08d}", n) is ErrorCode.WRONG_PIN
    assert _refused(mode, PIN, 100) is ErrorCode.LOCKED_OUT
    assert mode.failures == FREE_ATTEMPTS, "attempts during a lock are not counted, and not checked"
    mode.enter(PIN, 2 + LOCK_MS)
    assert mode.active(2 + LOCK_MS)


def test_each_attempt_is_recorded_before_the_pin_is_checked() -> None:
    kept: list[int] = []
    mode = ServiceMode(lambda pin: kept.append(-1) is None and pin == PIN, record=kept.append)
    mode.started(0)
    _refused(mode, "00000000", 0)
    mode.enter(PIN, 1)
    assert kept == [1, -1, 2, -1, 0], "count saved, PIN checked; then the right one resets it"


def test_a_pin_that_is_not_eight_digits_is_a_wrong_pin_without_being_checked() -> None:
    checked: list[str] = []
    mode = ServiceMode(lambda pin: checked.append(pin) is None and False)
    mode.started(0)
    assert _refused(mode, "12345", 0) is ErrorCode.WRONG_PIN
    assert _refused(mode, "1234567a", 0) is ErrorCode.WRONG_PIN
    assert checked == []


def test_a_restart_runs_an_earned_lock_again_in_full() -> None:
    mode = _mode(failures=FREE_ATTEMPTS + 1)
    mode.started(5_000_000)
    assert _refused(mode, PIN, 5_000_000 + 2 * LOCK_MS - 1) is ErrorCode.LOCKED_OUT
    mode.enter(PIN, 5_000_000 + 2 * LOCK_MS)


def _hear_every_half_silence(mode: ServiceMode, start: int, end: int) -> None:
    """A shell open on the console and nothing typed: its keepalives, no command."""
    for now in range(start, end, SILENCE_MS // 2):
        mode.heard(now)


def test_service_mode_ends_after_idling_or_when_left() -> None:
    mode = _mode()
    mode.enter(PIN, 0)
    _hear_every_half_silence(mode, 0, IDLE_MS)
    mode.used(IDLE_MS - 1)
    _hear_every_half_silence(mode, IDLE_MS - 1, 2 * IDLE_MS)
    assert mode.active(2 * IDLE_MS - 2)
    assert not mode.active(2 * IDLE_MS - 1)
    mode.enter(PIN, 0)
    mode.leave()
    assert not mode.active(1)


def test_service_mode_ends_when_the_console_hears_nothing_for_a_minute() -> None:
    """A cable pulled from a header UART: the node sees only silence."""
    assert SILENCE_MS <= 60_000
    mode = _mode()
    mode.enter(PIN, 0)
    assert mode.active(SILENCE_MS - 1)
    assert not mode.active(SILENCE_MS)
    mode.heard(SILENCE_MS + 1)  # too late: the cable may be on another laptop by now
    assert not mode.active(SILENCE_MS + 1)
    mode.enter(PIN, 0)
    mode.heard(SILENCE_MS - 1)
    assert mode.active(2 * SILENCE_MS - 2)
    assert not mode.active(2 * SILENCE_MS - 1)


def test_without_a_pin_there_is_no_service_mode() -> None:
    mode = ServiceMode(None)
    assert _refused(mode, PIN, 0) is ErrorCode.UNAVAILABLE

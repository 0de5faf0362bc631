"""The turnstile's state machine: one fresh, matching grant opens it for one person."""

import pytest

from edge.gate.turnstile import Alarm, Crossing, Feedback, Phase, Relay, Turnstile, energised
from edge.runtime.config import GateConfig

CONFIG = GateConfig(pulse_ms=400, grant_ms=5_000, authorise_ms=2_000, held_ms=10_000, fail_mode="secure")
RELEASE, LOCK = Relay(True), Relay(False)  # fail-secure: energised is released


def granted(gate: Turnstile, t: int = 0, req: str = "r1") -> None:
    gate.credential(t, req)
    assert gate.open(t + 100, req) == [RELEASE, Feedback("granted")]


def test_a_credential_then_its_open_pulses_the_relay_for_pulse_ms() -> None:
    gate = Turnstile(CONFIG)
    assert gate.start() == [LOCK]
    assert gate.credential(1_000, "r1") == [Feedback("authorising")]
    assert gate.phase is Phase.AUTHORISING
    assert gate.open(1_200, "r1") == [RELEASE, Feedback("granted")]
    assert gate.next_wakeup() == 1_600
    assert gate.tick(1_599) == []
    assert gate.tick(1_600) == [LOCK]
    assert gate.phase is Phase.GRANTED


def test_the_passage_in_uses_the_grant_up() -> None:
    gate = Turnstile(CONFIG)
    granted(gate)
    assert gate.passage(2_000, "in") == [Crossing("in", 2_000, "r1")]
    assert gate.phase is Phase.IDLE
    assert gate.passage(2_500, "in") == [Crossing("in", 2_500, None), Alarm("door_forced", 2_500)]
    assert gate.counters["doors_forced"] == 1


def test_an_open_for_a_used_request_never_pulses_again() -> None:
    gate = Turnstile(CONFIG)
    granted(gate)
    gate.passage(2_000, "in")
    assert gate.open(2_100, "r1") == []
    gate.credential(3_000, "r1")  # even when the same request comes up again
    assert gate.open(3_100, "r1") == []
    assert gate.counters["opens_ignored"] == 2


@pytest.mark.parametrize("when", ["idle", "other_request", "granted"])
def test_an_open_that_answers_nothing_pending_is_ignored(when: str) -> None:
    gate = Turnstile(CONFIG)
    if when == "other_request":
        gate.credential(0, "r2")
    if when == "granted":
        granted(gate)
    pulses_before = gate.counters.get("grants", 0)
    assert gate.open(500, "r1" if when != "granted" else "r9") == []
    assert gate.counters.get("grants", 0) == pulses_before


def test_a_deny_gives_feedback_and_nothing_else() -> None:
    gate = Turnstile(CONFIG)
    gate.credential(0, "r1")
    assert gate.deny(300, "r1", "nomatch") == [Feedback("denied", "nomatch")]
    assert gate.phase is Phase.IDLE
    assert gate.open(400, "r1") == []  # a late open after the deny does not count


def test_no_answer_in_time_is_a_denial() -> None:
    gate = Turnstile(CONFIG)
    gate.credential(0, "r1")
    assert gate.next_wakeup() == 2_000
    assert gate.tick(2_000) == [Feedback("denied", "no_answer")]
    assert gate.open(2_100, "r1") == []


def test_a_grant_nobody_uses_expires() -> None:
    gate = Turnstile(CONFIG)
    granted(gate)
    gate.tick(500)
    assert gate.tick(5_100) == []
    assert gate.phase is Phase.IDLE and gate.counters["grants_expired"] == 1
    assert gate.passage(5_200, "in")[-1] == Alarm("door_forced", 5_200)


def test_a_second_credential_while_one_is_pending_is_busy() -> None:
    gate = Turnstile(CONFIG)
    gate.credential(0, "r1")
    assert gate.credential(100, "r2") == [Feedback("busy")]
    assert gate.open(200, "r2") == []
    assert gate.open(300, "r1")[0] == RELEASE


def test_leaving_is_free_and_keeps_a_grant() -> None:
    gate = Turnstile(CONFIG)
    assert gate.passage(0, "out") == [Crossing("out", 0, None)]
    granted(gate, t=100)
    assert gate.passage(300, "out") == [Crossing("out", 300, None)]
    assert gate.passage(400, "in") == [Crossing("in", 400, "r1")]


def test_a_passage_held_blocked_raises_one_door_held_alarm() -> None:
    gate = Turnstile(CONFIG)
    assert gate.blocked(1_000, True) == []
    assert gate.next_wakeup() == 11_000
    assert gate.tick(10_999) == []
    assert gate.tick(11_000) == [Alarm("door_held", 11_000)]
    assert gate.tick(20_000) == []
    gate.blocked(20_100, False)
    gate.blocked(21_000, True)
    assert gate.tick(31_000) == [Alarm("door_held", 31_000)]


def test_the_fire_alarm_releases_the_barrier_and_frees_every_passage() -> None:
    gate = Turnstile(CONFIG)
    gate.credential(0, "r1")
    assert gate.fire_alarm(100, True) == [RELEASE, Feedback("free")]
    assert gate.phase is Phase.FREE
    assert gate.open(200, "r1") == []  # the pending request did not survive
    assert gate.passage(300, "in") == [Crossing("in", 300, None)]  # no alarm
    gate.blocked(400, True)
    assert gate.tick(60_000) == []  # no door-held alarm either
    assert gate.tick(60_000) == [] and gate.next_wakeup() is None
    assert gate.fire_alarm(61_000, False) == [LOCK]
    assert gate.phase is Phase.IDLE


def test_fail_safe_wires_the_relay_the_other_way_round() -> None:
    assert energised(released=True, fail_mode="secure") and not energised(released=False, fail_mode="secure")
    assert not energised(released=True, fail_mode="safe") and energised(released=False, fail_mode="safe")
    gate = Turnstile(GateConfig(fail_mode="safe"))
    assert gate.start() == [Relay(True)]  # held energised (locked) while the controller lives
    gate.credential(0, "r1")
    assert gate.open(10, "r1")[0] == Relay(False)


def test_a_relay_test_pulses_an_idle_gate_without_granting_anything() -> None:
    gate = Turnstile(CONFIG)
    gate.start()
    assert gate.relay_test(1_000) == [RELEASE]
    assert gate.relay_test(1_100) == [], "one pulse at a time"
    assert gate.next_wakeup() == 1_400
    assert gate.tick(1_400) == [LOCK]
    assert gate.phase is Phase.IDLE
    assert gate.passage(1_500, "in") == [Crossing("in", 1_500, None), Alarm("door_forced", 1_500)]
    assert gate.counters["relay_tests"] == 1


def test_a_relay_test_waits_for_a_shopper_being_served() -> None:
    gate = Turnstile(CONFIG)
    gate.credential(0, "r1")
    assert gate.relay_test(100) == []
    gate.open(200, "r1")
    assert gate.relay_test(300) == []
    gate.fire_alarm(400, True)
    assert gate.relay_test(500) == []

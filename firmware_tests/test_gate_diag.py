"""Testing a gate through its console, against a real gate node on its simulated lane: the
pins read, one relay pulse in service mode, and the palm self-test."""

import pytest

from edge.diag.link import Refused
from edge.protocol.roles import Role
from firmware_tests.conftest import ConsoleNode, Store


@pytest.fixture
def gate(make_store) -> ConsoleNode:  # type: ignore[no-untyped-def]
    store: Store = make_store([("gate-01", Role.GATE)])
    return store.start_with_console("gate-01")


def test_read_shows_an_idle_locked_gate(gate: ConsoleNode) -> None:
    (state,) = gate.link().ask(["read"])
    assert state == {
        "turnstile": "idle",
        "barrier": "locked",
        "relay": "energised",  # fail-safe: the coil holds the barrier locked
        "outer": "clear",
        "inner": "clear",
        "fire": "normal",
        "qr": "ok",
        "palm": "sim",
    }


def test_a_relay_test_needs_service_mode_and_pulses_for_pulse_ms(gate: ConsoleNode) -> None:
    link = gate.link()
    with pytest.raises(Refused) as refused:
        link.ask(["relay", "test"])
    assert refused.value.code == "needs_service"
    link.ask(["service", gate.pin])
    (watching, pulsed) = link.ask(["relay", "test"])
    assert watching["pulse_ms"] == "500"
    assert pulsed["relay"] == "pulsed" and pulsed["barrier"] == "locked"
    assert 450 <= int(pulsed["released_ms"]) <= 700, pulsed
    counters = {r["counter"]: r["count"] for r in link.ask(["status"]) if "counter" in r}
    assert counters["relay_tests"] == "1"
    assert link.ask(["read"])[0]["barrier"] == "locked"


def test_the_palm_selftest_passes_and_shows_no_template(gate: ConsoleNode) -> None:
    (result,) = gate.link().ask(["palm", "selftest"])
    assert result["selftest"] == "pass" and result["repeatable"] == "yes" and result["sensor"] == "sim"
    assert int(result["live_pm"]) >= 500 > int(result["print_live_pm"])
    assert set(result) == {"selftest", "quality_pm", "live_pm", "repeatable", "print_live_pm", "took_ms", "sensor"}

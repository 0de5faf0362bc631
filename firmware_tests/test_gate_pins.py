"""The gate's pins through gpiozero, on its mock pin factory."""

import itertools

import pytest
from gpiozero.pins.mock import MockFactory

from edge.gate.pins import GatePins, PinChange
from edge.runtime.config import GateConfig

clock = itertools.count(0, 10).__next__


@pytest.fixture
def factory():  # type: ignore[no-untyped-def]
    made = MockFactory()
    yield made
    made.close()


def test_the_relay_starts_as_told_and_follows(factory: MockFactory) -> None:
    pins = GatePins(
        GateConfig(relay_pin=5), relay_energised=True, clock=clock, deliver=lambda change: None, factory=factory
    )
    assert factory.pin(5).state is True
    pins.relay(False)
    assert factory.pin(5).state is False
    pins.close()


def test_beams_and_the_fire_contact_are_delivered_with_their_times(factory: MockFactory) -> None:
    changes: list[PinChange] = []
    pinout = GateConfig(outer_beam_pin=6, inner_beam_pin=7, fire_pin=8, beams_blocked_high=True, fire_active_high=False)
    pins = GatePins(pinout, relay_energised=False, clock=clock, deliver=changes.append, factory=factory)
    assert not pins.active("outer") and not pins.active("fire")
    factory.pin(6).drive_high()  # the outer beam interrupted
    factory.pin(7).drive_high()
    factory.pin(6).drive_low()
    factory.pin(8).drive_low()  # the fire panel's contact closes to ground
    assert [(c.name, c.active) for c in changes] == [("outer", True), ("inner", True), ("outer", False), ("fire", True)]
    assert [c.t for c in changes] == sorted(c.t for c in changes)
    assert pins.active("fire") and pins.active("inner")
    pins.close()

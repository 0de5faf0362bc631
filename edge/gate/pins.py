"""The gate's GPIO through gpiozero: the relay on the turnstile's trigger input, the passage's
two light beams and the fire-alarm contact.

gpiozero picks the pin library of the board it runs on (lgpio on a Pi 5, RPi.GPIO before);
the simulated gate hands in gpiozero's MockFactory instead and drives the same pins
(hw/sim/gate_lane.py). Pin changes arrive on gpiozero's threads and are delivered, stamped
with the node's clock, to the gate's own loop.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from gpiozero import DigitalInputDevice, OutputDevice
from gpiozero.pins import Factory

from edge.runtime.config import GateConfig

InputName = Literal["outer", "inner", "fire"]


@dataclass(frozen=True, slots=True)
class PinChange:
    t: int
    name: InputName
    active: bool  # a beam blocked, or the fire alarm on


class GatePins:
    def __init__(
        self,
        config: GateConfig,
        relay_energised: bool,
        clock: Callable[[], int],
        deliver: Callable[[PinChange], None],
        factory: Factory | None = None,
    ) -> None:
        self._clock = clock
        self._deliver = deliver
        self._relay = OutputDevice(config.relay_pin, initial_value=relay_energised, pin_factory=factory)
        self._inputs = {
            "outer": self._input(config.outer_beam_pin, config.beams_blocked_high, factory),
            "inner": self._input(config.inner_beam_pin, config.beams_blocked_high, factory),
            "fire": self._input(config.fire_pin, config.fire_active_high, factory),
        }
        for name, device in self._inputs.items():
            device.when_activated = self._on_change(name, True)
            device.when_deactivated = self._on_change(name, False)

    @staticmethod
    def _input(pin: int, active_high: bool, factory: Factory | None) -> DigitalInputDevice:
        # Pulled to the idle level, so a cut wire reads as idle... except for a beam wired
        # active-low, where it reads blocked: the door-held alarm then reports the fault.
        return DigitalInputDevice(pin, pull_up=not active_high, pin_factory=factory)

    def _on_change(self, name: str, active: bool) -> Callable[[], None]:
        def changed() -> None:
            self._deliver(PinChange(self._clock(), name, active))  # type: ignore[arg-type]

        return changed

    def relay(self, energised: bool) -> None:
        self._relay.value = energised

    @property
    def relay_energised(self) -> bool:
        return bool(self._relay.value)

    def active(self, name: InputName) -> bool:
        return bool(self._inputs[name].is_active)

    def close(self) -> None:
        """Release the pins; the relay coil drops, which the fail mode makes safe or secure."""
        self._relay.close()
        for device in self._inputs.values():
            device.close()

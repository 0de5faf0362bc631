"""The turnstile's state machine. Pure: inputs with their times in, outputs out; the caller
owns the clock, the pins and the MQTT link, and calls `tick` by `next_wakeup`.

    idle --credential--> authorising --open (this request)--> granted --passage in--> idle
                              |                                  |
                              +--deny / no answer--> idle        +--grant_ms passes--> idle
    any --fire alarm--> free --alarm cleared--> idle

- The barrier opens only for an `open` that answers the request now pending. The command
  layer has already refused unsigned, retained, stale and replayed commands; an `open` for
  any other request, for one already used or for none at all is ignored and counted.
- One grant lets one person in: the first `passage in` uses it up (its request is
  remembered, so no later `open` for it counts), and a second one is a forced entry.
- Leaving is free: a `passage out` needs no grant and never uses one up.
- Door forced: someone passes in with no grant. Door held: the passage stays blocked longer
  than held_ms. Each raises one alarm.
- Fire: the barrier is released and stays released while the alarm input is active; every
  passage is free and nothing pending survives it.
- The relay drives the turnstile's trigger input. With fail_mode "safe" it is wired so that
  energised means locked, so a controller that dies or is reset by its watchdog leaves the
  barrier free; with "secure", energised means released and a dead controller locks.
"""

from collections import OrderedDict
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

from edge.runtime.config import GateConfig

FailMode = Literal["safe", "secure"]
USED_REQUESTS = 256  # how many used requests are remembered against a late or repeated `open`


class Phase(Enum):
    IDLE = "idle"
    AUTHORISING = "authorising"
    GRANTED = "granted"
    FREE = "free"  # fire alarm


@dataclass(frozen=True, slots=True)
class Relay:
    energised: bool  # the coil, as the pin drives it


@dataclass(frozen=True, slots=True)
class Feedback:
    """What the shopper sees and hears at the gate."""

    kind: Literal["authorising", "granted", "denied", "busy", "free"]
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Crossing:
    """A passage to report as a `passage` event."""

    dir: Literal["in", "out"]
    t: int
    grant: str | None  # the request whose grant was used


@dataclass(frozen=True, slots=True)
class Alarm:
    kind: Literal["door_forced", "door_held"]
    t: int


Output = Relay | Feedback | Crossing | Alarm


def energised(released: bool, fail_mode: FailMode) -> bool:
    """The relay coil for a barrier that should be released or not."""
    return released if fail_mode == "secure" else not released


@dataclass
class Turnstile:
    config: GateConfig  # pulse_ms, grant_ms, authorise_ms, held_ms and fail_mode
    phase: Phase = Phase.IDLE
    counters: dict[str, int] = field(default_factory=dict)
    _pending: str | None = None  # the request being authorised, then the one granted
    _deadline: int = 0  # when authorising or the grant ends
    _pulse_until: int | None = None  # when the relay pulse ends
    _blocked_since: int | None = None
    _held_raised: bool = False
    _used: OrderedDict[str, None] = field(default_factory=OrderedDict)

    def start(self) -> list[Output]:
        """The relay's level at boot: locked."""
        return [Relay(energised(False, self.config.fail_mode))]

    def credential(self, t: int, req: str) -> list[Output]:
        """A palm or QR code was presented; the caller sends it to the gateway as request `req`."""
        if self.phase is not Phase.IDLE:
            self._count("credentials_busy")
            return [Feedback("busy")]
        self.phase, self._pending, self._deadline = Phase.AUTHORISING, req, t + self.config.authorise_ms
        return [Feedback("authorising")]

    def open(self, t: int, req: str) -> list[Output]:
        if self.phase is not Phase.AUTHORISING or req != self._pending or req in self._used:
            self._count("opens_ignored")
            return []
        self.phase, self._deadline = Phase.GRANTED, t + self.config.grant_ms
        self._pulse_until = t + self.config.pulse_ms
        self._count("grants")
        return [Relay(energised(True, self.config.fail_mode)), Feedback("granted")]

    def deny(self, t: int, req: str, reason: str) -> list[Output]:
        if self.phase is not Phase.AUTHORISING or req != self._pending:
            self._count("denies_ignored")
            return []
        self._forget_pending()
        self._count("denied")
        return [Feedback("denied", reason)]

    def passage(self, t: int, direction: Literal["in", "out"]) -> list[Output]:
        if direction == "out" or self.phase is Phase.FREE:
            return [Crossing(direction, t, None)]
        if self.phase is Phase.GRANTED and self._pending is not None:
            grant = self._pending
            self._forget_pending()
            return [Crossing("in", t, grant)]
        self._count("doors_forced")
        return [Crossing("in", t, None), Alarm("door_forced", t)]

    def blocked(self, t: int, blocked: bool) -> list[Output]:
        """The passage sensor's beams: whether anything stands in the passage now."""
        if blocked and self._blocked_since is None:
            self._blocked_since, self._held_raised = t, False
        elif not blocked:
            self._blocked_since = None
        return self.tick(t)

    def relay_test(self, t: int) -> list[Output]:
        """A technician's test pulse: the barrier is released for pulse_ms with no grant (a
        person passing meanwhile is a forced entry). Only an idle gate takes it."""
        if self.phase is not Phase.IDLE or self._pulse_until is not None:
            return []
        self._pulse_until = t + self.config.pulse_ms
        self._count("relay_tests")
        return [Relay(energised(True, self.config.fail_mode))]

    def fire_alarm(self, t: int, active: bool) -> list[Output]:
        if active and self.phase is not Phase.FREE:
            self._forget_pending()
            self.phase, self._pulse_until = Phase.FREE, None
            self._count("fire_alarms")
            return [Relay(energised(True, self.config.fail_mode)), Feedback("free")]
        if not active and self.phase is Phase.FREE:
            self.phase = Phase.IDLE
            return [Relay(energised(False, self.config.fail_mode))]
        return []

    def tick(self, t: int) -> list[Output]:
        out: list[Output] = []
        if self._pulse_until is not None and t >= self._pulse_until:
            self._pulse_until = None
            out.append(Relay(energised(False, self.config.fail_mode)))
        if self.phase is Phase.AUTHORISING and t >= self._deadline:
            self._forget_pending()
            self._count("authorise_timeouts")
            out.append(Feedback("denied", "no_answer"))
        elif self.phase is Phase.GRANTED and t >= self._deadline:
            self._forget_pending()
            self._count("grants_expired")
        held = self._door_held_at()
        if held is not None and t >= held:
            self._held_raised = True
            self._count("doors_held")
            out.append(Alarm("door_held", t))
        return out

    def next_wakeup(self) -> int | None:
        """The earliest time `tick` has something to do, if any."""
        times = [self._pulse_until, self._door_held_at()]
        if self.phase in (Phase.AUTHORISING, Phase.GRANTED):
            times.append(self._deadline)
        return min((time for time in times if time is not None), default=None)

    def _door_held_at(self) -> int | None:
        """When the current blockage becomes a door-held alarm, unless raised or free."""
        if self._blocked_since is None or self._held_raised or self.phase is Phase.FREE:
            return None
        return self._blocked_since + self.config.held_ms

    def _forget_pending(self) -> None:
        """The pending request is finished with: it can never be granted (again)."""
        if self._pending is not None:
            self._used[self._pending] = None
            while len(self._used) > USED_REQUESTS:
                self._used.popitem(last=False)
        self._pending = None
        if self.phase is not Phase.FREE:
            self.phase = Phase.IDLE

    def _count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1

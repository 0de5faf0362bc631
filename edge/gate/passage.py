"""Which way someone went through the gate, from its two light beams. Pure.

The passage has an outer beam (street side) and an inner one (store side). A crossing starts
when the passage goes from clear to blocked and ends when it is clear again. It counts as a
passage only if both beams were blocked on the way and the person left on the other side
from where they came in: outer first and inner last is `in`, the reverse `out`. Someone who
steps in and backs out again passes nobody through.
"""

from dataclasses import dataclass, field
from typing import Literal

Beam = Literal["outer", "inner"]
Direction = Literal["in", "out"]


@dataclass(frozen=True, slots=True)
class Crossed:
    dir: Direction
    t: int  # when the passage came clear again


@dataclass
class PassageDecoder:
    _blocked: set[Beam] = field(default_factory=set)
    _first: Beam | None = None
    _both: bool = False  # whether both beams were blocked at once during this crossing

    @property
    def occupied(self) -> bool:
        return bool(self._blocked)

    def beam(self, t: int, beam: Beam, blocked: bool) -> Crossed | None:
        if blocked:
            if not self._blocked:
                self._first, self._both = beam, False
            self._blocked.add(beam)
            self._both |= len(self._blocked) == 2
            return None
        if beam not in self._blocked:
            return None
        self._blocked.discard(beam)
        if self._blocked or not self._both or beam == self._first:
            return None
        return Crossed("in" if self._first == "outer" else "out", t)

"""What the store layout assigns each device (DESIGN section 3): a shelf node reports its own
shelf's lanes (a shelf node is named after its shelf), a camera the lanes of the shelves it
watches, a gate node the layout's gate named after it (or, named otherwise, any of the
layout's gates). A message naming anything else is refused as
`not_assigned`, so one node cannot move another's shelf or book picks on it. Pure.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from edge.protocol.errors import ProtocolError, Reason
from edge.protocol.messages import Alarm, AnyMessage, Interaction, Passage, Telemetry, Weight
from gateway.layout import StoreLayout


@dataclass(frozen=True, slots=True)
class Assignments:
    """None where no layout says: a gateway without one still holds each shelf node to the
    shelf named after it, the one rule that needs no layout."""

    lanes: Mapping[str, frozenset[int]] | None = None  # shelf id: its lanes
    watched: Mapping[str, frozenset[str]] | None = None  # camera node: the shelves it watches
    gates: frozenset[str] | None = None

    @classmethod
    def of(cls, layout: StoreLayout | None) -> "Assignments":
        if layout is None:
            return cls()
        return cls(
            {shelf.shelf: frozenset(slot.lane for slot in shelf.lanes) for shelf in layout.shelves},
            {camera.node: frozenset(camera.shelves) for camera in layout.cameras},
            frozenset(layout.gate_by_id),
        )

    def check(self, message: AnyMessage) -> None:
        """Raise ProtocolError(not_assigned) for a message naming what its sender does not own."""
        match message:
            case Weight():
                self._own_shelf(message.dev, message.shelf, (message.lane,))
            case Telemetry():
                self._own_shelf(message.dev, message.shelf, (lane for lane, _ in message.lanes))
            case Interaction():
                if self.watched is not None and message.shelf not in self.watched.get(message.dev, frozenset()):
                    raise _refused(f"camera {message.dev} does not watch shelf {message.shelf}")
                self._lanes(message.shelf, message.lanes)
            case Passage() | Alarm():
                self._own_gate(message.dev, message.gate)

    def _own_gate(self, dev: str, gate: str) -> None:
        """A gate node drives the layout's gate named after it; one named otherwise (the gate
        config's `name`) may report any gate of the layout, which names no gate's node."""
        if self.gates is None:
            return
        if gate not in self.gates:
            raise _refused(f"gate {gate} is not in the layout")
        if dev in self.gates and gate != dev:
            raise _refused(f"gate node {dev} reported gate {gate}")

    def _own_shelf(self, dev: str, shelf: str, lanes: Iterable[int]) -> None:
        if shelf != dev:
            raise _refused(f"shelf node {dev} reported shelf {shelf}")
        self._lanes(shelf, lanes)

    def _lanes(self, shelf: str, lanes: Iterable[int]) -> None:
        if self.lanes is None:
            return
        known = self.lanes.get(shelf)
        if known is None:
            raise _refused(f"shelf {shelf} is not in the layout")
        stray = sorted(set(lanes) - known)
        if stray:
            raise _refused(f"shelf {shelf} has no lane {', '.join(map(str, stray[:8]))}")


def _refused(detail: str) -> ProtocolError:
    return ProtocolError(Reason.NOT_ASSIGNED, detail)

"""Per-device sequence tracking for dedupe and replay refusal. Pure.

Events carry (boot, seq): one above the high-water mark is new; one a little below it
(inside the window) may be a late arrival or a redelivered duplicate, and the journal
decides which; anything older is a replay unless the journal already holds it.
`state` messages stand outside the sequence and need only a boot not older than the
newest seen.

Bounds (DESIGN section 3): no single message may move a sender's marks so far that its
genuine later messages are refused. A boot may step at most BOOT_STEP above the newest
seen; within a boot, seq at most one window above the newest place any authentic message
within the bounds took, accepted or refused later (so genuine messages refused for a
reason of their own, a clock ahead or a lane the layout lacks, leave no gap that locks the
rest out), and every genuine number below a jump that was let in still falls inside the
window; a new boot starts within one window of 1. A device with no marks yet (new, or
reset by an operator) is not bounded: there is nothing it could be locked out of, and a
gateway with a fresh journal must not refuse a fleet that has been running.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum, auto
from typing import Final

from edge.protocol.errors import ProtocolError, Reason

# A node's boot goes up by one per start, but a node with boot state that cannot reach the
# gateway starts on its own count (edge/runtime/boot_ask.py), and crash-looping so for two
# weeks adds about 100,000; a glitch or a hostile value is almost always far beyond.
BOOT_STEP: Final = 100_000


class Verdict(Enum):
    NEW = auto()
    IN_WINDOW = auto()
    OLD = auto()


@dataclass
class Sequencing:
    window: int = 1024
    high: dict[str, tuple[int, int]] = field(default_factory=dict)
    newest_boot: dict[str, int] = field(default_factory=dict)
    # the newest place an authentic event within the bounds took, accepted or not
    placed: dict[str, tuple[int, int]] = field(default_factory=dict)

    def copy(self) -> "Sequencing":
        return Sequencing(self.window, dict(self.high), dict(self.newest_boot), dict(self.placed))

    def classify_event(self, dev: str, boot: int, seq: int) -> Verdict:
        mark = self.high.get(dev)
        if mark is None or (boot, seq) > mark:
            return Verdict.NEW
        if boot == mark[0] and seq > mark[1] - self.window:
            return Verdict.IN_WINDOW
        return Verdict.OLD

    def place(self, dev: str, boot: int, seq: int) -> None:
        """Raise ProtocolError for a boot or seq that jumps past the bounds; otherwise note the
        message's place, whatever becomes of it, as the base of the next bound."""
        newest = self.newest_boot.get(dev)
        if newest is not None and boot > newest + BOOT_STEP:
            raise ProtocolError(
                Reason.BOOT_JUMP, f"boot {boot} is more than {BOOT_STEP} above {newest}, the newest seen"
            )
        if seq == 0:
            return
        marks = [mark for mark in (self.high.get(dev), self.placed.get(dev)) if mark is not None]
        if marks and boot >= max(marks)[0]:
            newest_place = max(marks)
            base = newest_place[1] if boot == newest_place[0] else 0
            if seq > base + self.window:
                raise ProtocolError(Reason.SEQ_JUMP, f"{boot}/{seq} is more than {self.window} above {boot}/{base}")
        if (boot, seq) > self.placed.get(dev, (0, 0)):
            self.placed[dev] = (boot, seq)

    def state_is_current(self, dev: str, boot: int) -> bool:
        return boot >= self.newest_boot.get(dev, 0)

    def accept(self, dev: str, boot: int, seq: int) -> None:
        if seq > 0 and (boot, seq) > self.high.get(dev, (0, 0)):
            self.high[dev] = (boot, seq)
        if boot > self.newest_boot.get(dev, 0):
            self.newest_boot[dev] = boot


def reachable_boot(boots: Iterable[int]) -> int:
    """The newest of `boots` reached from the oldest by steps no larger than BOOT_STEP, 0 for
    none: what a device's own starts made, leaving out a jump taken before the bounds."""
    ordered = sorted(boots)
    reached = ordered[0] if ordered else 0
    for boot in ordered[1:]:
        if boot > reached + BOOT_STEP:
            break
        reached = boot
    return reached

"""Per-device sequence tracking for dedupe and replay refusal. Pure.

Events carry (boot, seq): one above the high-water mark is new; one a little below it
(inside the window) may be a late arrival or a redelivered duplicate, and the journal
decides which; anything older is a replay unless the journal already holds it.
`state` messages stand outside the sequence and need only a boot not older than the
newest seen.
"""

from dataclasses import dataclass, field
from enum import Enum, auto


class Verdict(Enum):
    NEW = auto()
    IN_WINDOW = auto()
    OLD = auto()


@dataclass
class Sequencing:
    window: int = 1024
    high: dict[str, tuple[int, int]] = field(default_factory=dict)
    newest_boot: dict[str, int] = field(default_factory=dict)

    def copy(self) -> "Sequencing":
        return Sequencing(self.window, dict(self.high), dict(self.newest_boot))

    def classify_event(self, dev: str, boot: int, seq: int) -> Verdict:
        mark = self.high.get(dev)
        if mark is None or (boot, seq) > mark:
            return Verdict.NEW
        if boot == mark[0] and seq > mark[1] - self.window:
            return Verdict.IN_WINDOW
        return Verdict.OLD

    def state_is_current(self, dev: str, boot: int) -> bool:
        return boot >= self.newest_boot.get(dev, 0)

    def accept(self, dev: str, boot: int, seq: int) -> None:
        if seq > 0 and (boot, seq) > self.high.get(dev, (0, 0)):
            self.high[dev] = (boot, seq)
        if boot > self.newest_boot.get(dev, 0):
            self.newest_boot[dev] = boot

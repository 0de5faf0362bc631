"""Per-device clock offset estimate from receive times. Pure.

Each accepted message gives `recv_ms - ts` = offset + transit delay. Delay is never
negative and is near its minimum for some messages in any short run, so the minimum over
a sliding window of recent samples estimates the offset and follows slow drift.
"""

from collections import deque
from dataclasses import dataclass, field


@dataclass
class ClockOffset:
    window: int = 256
    _samples: deque[int] = field(default_factory=deque)

    def add(self, sent_ms: int, recv_ms: int) -> None:
        self._samples.append(recv_ms - sent_ms)
        if len(self._samples) > self.window:
            self._samples.popleft()

    def copy(self) -> "ClockOffset":
        return ClockOffset(self.window, self._samples.copy())

    @property
    def offset_ms(self) -> int | None:
        return min(self._samples) if self._samples else None

    def to_gateway_time(self, sent_ms: int) -> int:
        """A device timestamp in gateway time (unchanged until a sample exists)."""
        return sent_ms + (self.offset_ms or 0)

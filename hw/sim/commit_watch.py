"""When each of a device's journaled events was first seen committed: the journal polled
read-only every 10 ms beside a running gateway. For tests and benchmarks that measure how
long the gateway held a device's events back (a commit is what its acknowledgement waits for)."""

import sqlite3
import threading
from pathlib import Path

from edge.protocol.clock import wall_ms


class CommitWatch:
    def __init__(self, journal: Path, dev: str) -> None:
        self.seen: dict[tuple[int, int], tuple[int, int]] = {}  # (boot, seq): (recv_ms, seen_ms)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, args=(journal, dev), daemon=True)
        self._thread.start()

    def _poll(self, journal: Path, dev: str) -> None:
        last_id = 0
        while not self._stop.wait(0.01):
            if not journal.exists():
                continue
            db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5)
            try:
                rows = db.execute(
                    "SELECT id, boot, seq, recv_ms FROM journal WHERE id > ? AND dev = ? AND seq > 0 ORDER BY id",
                    (last_id, dev),
                ).fetchall()
            except sqlite3.OperationalError:  # the gateway has not made its tables yet
                rows = []
            finally:
                db.close()
            now = wall_ms()
            for row_id, boot, seq, recv_ms in rows:
                last_id = max(last_id, row_id)
                self.seen.setdefault((boot, seq), (recv_ms, now))

    def held_ms(self) -> list[int]:
        """For each event seen, how long after it reached the gateway it was committed."""
        return sorted(seen - recv for recv, seen in self.seen.values())

    def max_gap_ms(self) -> int:
        """The longest time between two consecutive events reaching the gateway."""
        received = sorted(recv for recv, _ in self.seen.values())
        return max((b - a for a, b in zip(received, received[1:], strict=False)), default=0)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)

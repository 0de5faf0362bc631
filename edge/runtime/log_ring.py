"""The node's recent log records in memory, for the console's `log N`: what a technician
needs to read without a shell. Nothing here is written anywhere."""

import logging
import threading
from collections import deque
from dataclasses import dataclass

KEPT = 500


@dataclass(frozen=True, slots=True)
class LogLine:
    t_ms: int
    level: str
    logger: str
    message: str


class LogRing(logging.Handler):
    def __init__(self, kept: int = KEPT, level: int = logging.INFO) -> None:
        super().__init__(level)
        self._lines: deque[LogLine] = deque(maxlen=kept)
        self._lines_lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = LogLine(int(record.created * 1000), record.levelname, record.name, record.getMessage())
        except Exception:
            self.handleError(record)
            return
        with self._lines_lock:
            self._lines.append(line)

    def last(self, n: int) -> list[LogLine]:
        with self._lines_lock:
            return list(self._lines)[-n:] if n > 0 else []

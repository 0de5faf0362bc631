"""Alerts for operators, rate-limited per (kind, reason, device) so a flood of bad messages
raises one alert per interval carrying how many it stands for. Pure: the caller gives the time."""

from dataclasses import dataclass, field

import msgspec


class Alert(msgspec.Struct, frozen=True):
    ts_ms: int
    kind: str
    reason: str
    dev: str
    detail: str
    count: int


@dataclass
class AlertLimiter:
    interval_ms: int = 10_000
    _last: dict[tuple[str, str, str], int] = field(default_factory=dict)
    _held: dict[tuple[str, str, str], int] = field(default_factory=dict)
    _detail: dict[tuple[str, str, str], str] = field(default_factory=dict)

    def raise_alert(self, now_ms: int, kind: str, reason: str, dev: str, detail: str) -> Alert | None:
        """Return the alert to publish now, or None while the same one was raised within the interval."""
        key = (kind, reason, dev)
        self._held[key] = self._held.get(key, 0) + 1
        self._detail[key] = detail
        last = self._last.get(key)
        if last is not None and now_ms - last < self.interval_ms:
            return None
        self._last[key] = now_ms
        return Alert(now_ms, kind, reason, dev, detail, self._held.pop(key))

    def flush(self, now_ms: int) -> list[Alert]:
        """Alerts for what was held back and whose interval has passed, so a burst is reported
        whole even when nothing follows it."""
        due = [key for key in self._held if now_ms - self._last.get(key, 0) >= self.interval_ms]
        alerts = []
        for key in due:
            self._last[key] = now_ms
            alerts.append(Alert(now_ms, *key, self._detail[key], self._held.pop(key)))
        return alerts

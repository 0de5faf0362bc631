"""Alerts for operators (`store/{store}/gateway/alerts`, not retained), and their rate limit:
per (kind, reason, device), so a flood of bad messages or door alarms raises one alert per
interval carrying how many it stands for. Pure: the caller gives the time."""

from dataclasses import dataclass, field
from typing import Literal

import msgspec

AlertKind = Literal[
    "reject",  # a message refused; reason: why (edge.protocol.errors.Reason)
    "device_offline",  # reason: offline (lost) or stopped (shut down); cleared when back online
    "spool_growing",  # a node holds more and more unsent events; cleared when it drains
    "door_forced",
    "door_held",
    "shelf_drift",  # a shelf's lanes drifted past their limit without an event; cleared when none do
    "review",  # a receipt went for review; reason: its first flag
    "upstream_unreachable",  # the bridge to upstream is down; cleared when it is up again
    "journal_stalled",  # the gateway's journal stopped committing; cleared when it commits again
    # what the gateway derives from a message (dashboard topics, fusion) was left out at a
    # bound or failed; reason: lanes_dropped, shelves_dropped, sessions_dropped,
    # detections_dropped, passages_dropped, oversize, fusion_error, view_error, alerts_dropped
    # (a view failing so long that its own alerts piled up). The message itself is journaled
    # and acknowledged all the same
    "derived_failed",
]


class Alert(msgspec.Struct, frozen=True):
    ts_ms: int
    kind: AlertKind
    reason: str
    dev: str
    detail: str
    count: int = 1
    active: bool = True  # false: the condition this kind names has ended


@dataclass
class AlertLimiter:
    interval_ms: int = 10_000
    _last: dict[tuple[AlertKind, str, str], int] = field(default_factory=dict)
    _held: dict[tuple[AlertKind, str, str], int] = field(default_factory=dict)
    _detail: dict[tuple[AlertKind, str, str], str] = field(default_factory=dict)

    def raise_alert(
        self, now_ms: int, kind: AlertKind, reason: str, dev: str, detail: str, count: int = 1
    ) -> Alert | None:
        """Return the alert to publish now, or None while the same one was raised within the
        interval; `count`: how many this one stands for itself."""
        key = (kind, reason, dev)
        self._held[key] = self._held.get(key, 0) + count
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

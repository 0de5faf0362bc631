"""What a dashboard knows of the store: the gateway's retained topics as they arrive. Pure:
`take` a topic and its payload; what it cannot read is counted, never fatal, since any
client with the right to publish there could put anything on the broker."""

from collections import deque
from dataclasses import dataclass, field
from typing import TypeVar

import msgspec

from edge.protocol.status import GatewayStatus
from edge.protocol.topics import gateway_alerts_topic, gateway_prefix, gateway_state_topic
from gateway.operator.alerts import Alert
from gateway.operator.model import DeviceView, SessionView, ShelfView

RECENT_ALERTS = 50
T = TypeVar("T")


@dataclass
class Board:
    store: str
    status: GatewayStatus | None = None
    devices: dict[str, DeviceView] = field(default_factory=dict)
    shelves: dict[str, ShelfView] = field(default_factory=dict)
    sessions: dict[str, SessionView] = field(default_factory=dict)
    alerts: deque[Alert] = field(default_factory=lambda: deque(maxlen=RECENT_ALERTS))
    unreadable: int = 0

    def take(self, topic: str, payload: bytes) -> None:
        try:
            self._take(topic, payload)
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
            self.unreadable += 1

    def _take(self, topic: str, payload: bytes) -> None:
        if topic == gateway_state_topic(self.store):
            self.status = msgspec.json.decode(payload, type=GatewayStatus) if payload else None
            return
        if topic == gateway_alerts_topic(self.store):
            self.alerts.append(msgspec.json.decode(payload, type=Alert))
            return
        prefix = gateway_prefix(self.store) + "/"
        if not topic.startswith(prefix) or topic.count("/") != prefix.count("/") + 1:
            return
        area, name = topic[len(prefix) :].split("/")
        match area:
            case "devices":
                _put(self.devices, name, payload, DeviceView)
            case "shelves":
                _put(self.shelves, name, payload, ShelfView)
            case "sessions":
                _put(self.sessions, name, payload, SessionView)


def _put(table: dict[str, T], name: str, payload: bytes, kind: type[T]) -> None:
    if payload:
        table[name] = msgspec.json.decode(payload, type=kind)
    else:
        table.pop(name, None)

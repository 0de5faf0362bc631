"""Which role may send which message type, and the gateway's and upstream's fixed roles."""

from enum import StrEnum
from typing import Final


class Role(StrEnum):
    SHELF = "shelf"
    CAMERA = "camera"
    GATE = "gate"
    GATEWAY = "gateway"
    UPSTREAM = "upstream"


DEVICE_ROLES: Final = (Role.SHELF, Role.CAMERA, Role.GATE)

EVENT_TYPES: Final[dict[Role, frozenset[str]]] = {
    Role.SHELF: frozenset({"weight", "telemetry", "health", "hello"}),
    Role.CAMERA: frozenset({"interaction", "presence", "health", "hello"}),
    Role.GATE: frozenset({"passage", "alarm", "palm", "qr", "health", "hello"}),
    Role.GATEWAY: frozenset({"open", "deny", "boot", "receipt", "palm"}),
    Role.UPSTREAM: frozenset({"decision"}),
}


def may_send(role: Role, message_type: str) -> bool:
    return message_type in EVENT_TYPES[role]

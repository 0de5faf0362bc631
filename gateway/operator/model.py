"""The retained dashboard payloads under `store/{store}/gateway/` (DESIGN section 7): plain
JSON, integers only, as every other message on the wire. The gateway's own `state` is
edge.protocol.status.GatewayStatus, since nodes read it too."""

from typing import Literal

import msgspec

DeviceAvailability = Literal["online", "stopped", "offline", "silent", "unknown"]


class DeviceHealth(msgspec.Struct, frozen=True):
    uptime_s: int
    temp_c10: int  # -32768: the board has no sensor
    counters: dict[str, int]


class DeviceView(msgspec.Struct, frozen=True):
    """`devices/{node}`. `silent`: says online but nothing came from it for too long;
    `unknown`: provisioned, never heard from."""

    node: str
    role: str
    availability: DeviceAvailability
    last_seen_ms: int | None
    boot: int | None
    spool: int | None  # unsent events the node held at its last health report
    health: DeviceHealth | None
    alerts: list[str]  # the alert kinds active for it now


class LaneView(msgspec.Struct, frozen=True):
    lane: int
    sku: str | None  # what the planogram puts there
    weight_mg: int | None  # what stands on it, as the shelf last reported
    stock: int | None  # how many of its product that weight makes, misplaced items taken off
    misplaced: list[str]  # products put back here by mistake, the top last


class ShelfView(msgspec.Struct, frozen=True):
    """`shelves/{shelf}`."""

    shelf: str
    lanes: list[LaneView]
    updated_ms: int | None


class SessionView(msgspec.Struct, frozen=True):
    """`sessions/{session}`: pseudonymous, no account. `review`: the receipt is final and went
    for review; the topic stays while it is in the review queue."""

    session: str
    state: Literal["open", "closed", "review"]
    opened_ms: int
    closed_ms: int | None
    people: int  # everyone who came in on it
    inside: int
    lines: list[tuple[str, int]]  # (sku, qty) in the cart now
    flags: list[str]  # why it will go for review
    confidence_pm: int

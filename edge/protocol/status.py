"""The gateway's retained status (`store/{store}/gateway/state`): plain JSON for dashboards,
and the signal nodes send by. Only the gateway may write it (broker ACL)."""

from typing import Literal

import msgspec

# `stalled`: connected, but the journal has not committed for a while (a full disk, a lock);
# nodes hold their events as they do for `offline`.
Availability = Literal["online", "stalled", "stopped", "offline"]


class GatewayStatus(msgspec.Struct, frozen=True):
    state: Availability
    version: str
    uptime_s: int
    accepted: int
    duplicates: int
    rejected: dict[str, int]
    backlog: int


class _Availability(msgspec.Struct, frozen=True):
    state: Availability


def gateway_online(payload: bytes) -> bool:
    """True when a gateway status payload says `online`; anything else, garbage included, is not."""
    try:
        return msgspec.json.decode(payload, type=_Availability).state == "online"
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
        return False

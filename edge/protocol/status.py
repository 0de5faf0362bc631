"""The gateway's retained status (`store/{store}/gateway/state`): plain JSON for dashboards,
and the signal nodes send by. Only the gateway may write it (broker ACL)."""

from typing import Literal

import msgspec

# `stalled`: connected, but the journal has not committed for a while (a full disk, a lock);
# nodes hold their events as they do for `offline`.
Availability = Literal["online", "stalled", "stopped", "offline"]
UpstreamLinkState = Literal["up", "down", "none"]


class Rates(msgspec.Struct, frozen=True):
    """Messages per minute over the last minute."""

    accepted_per_min: int = 0
    duplicates_per_min: int = 0
    rejected_per_min: int = 0


class GatewayStatus(msgspec.Struct, frozen=True):
    state: Availability
    version: str
    uptime_s: int
    accepted: int
    duplicates: int
    rejected: dict[str, int]
    backlog: int
    rates: Rates = Rates()
    devices_online: int = 0
    devices_total: int = 0
    sessions_open: int = 0
    review_queue: int = 0
    upstream: UpstreamLinkState = "none"  # `none`: this gateway has no upstream configured
    # what the gateway derives from messages (dashboard topics, fusion) left out at a bound
    # or failed on, by reason, since it started; the messages are journaled all the same
    derived_failed: dict[str, int] = {}


class _Availability(msgspec.Struct, frozen=True):
    state: Availability


def gateway_online(payload: bytes) -> bool:
    """True when a gateway status payload says `online`; anything else, garbage included, is not."""
    try:
        return msgspec.json.decode(payload, type=_Availability).state == "online"
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
        return False

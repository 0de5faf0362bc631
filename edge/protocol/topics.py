"""Topic building and parsing for every topic of wire protocol v1."""

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from edge.protocol.errors import ProtocolError, Reason

_ID = re.compile(r"[a-z0-9-]+")
_TYPE = re.compile(r"[a-z][a-z0-9_]*")


class Kind(StrEnum):
    EVENT = "event"
    STATE = "state"
    CMD = "cmd"
    UPSTREAM_OUT = "upstream_out"
    UPSTREAM_IN = "upstream_in"


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed topic. `node` is None for upstream topics; `name` is the message type (None for state)."""

    kind: Kind
    store: str
    node: str | None
    name: str

    def __str__(self) -> str:
        match self.kind:
            case Kind.EVENT:
                return f"store/{self.store}/node/{self.node}/event/{self.name}"
            case Kind.STATE:
                return f"store/{self.store}/node/{self.node}/state"
            case Kind.CMD:
                return f"store/{self.store}/node/{self.node}/cmd/{self.name}"
            case Kind.UPSTREAM_OUT:
                return f"store/{self.store}/upstream/out/{self.name}"
            case Kind.UPSTREAM_IN:
                return f"store/{self.store}/upstream/in/{self.name}"


def _checked(store: str, node: str | None, name: str) -> None:
    if not _ID.fullmatch(store):
        raise ValueError(f"store id {store!r} must match [a-z0-9-]+")
    if node is not None and not _ID.fullmatch(node):
        raise ValueError(f"node id {node!r} must match [a-z0-9-]+")
    if not _TYPE.fullmatch(name):
        raise ValueError(f"message type {name!r} must match [a-z][a-z0-9_]*")


def event_topic(store: str, node: str, message_type: str) -> str:
    _checked(store, node, message_type)
    return str(Topic(Kind.EVENT, store, node, message_type))


def state_topic(store: str, node: str) -> str:
    _checked(store, node, "state")
    return str(Topic(Kind.STATE, store, node, "state"))


def cmd_topic(store: str, node: str, name: str) -> str:
    _checked(store, node, name)
    return str(Topic(Kind.CMD, store, node, name))


def upstream_out_topic(store: str, message_type: str) -> str:
    _checked(store, None, message_type)
    return str(Topic(Kind.UPSTREAM_OUT, store, None, message_type))


def upstream_in_topic(store: str, message_type: str) -> str:
    _checked(store, None, message_type)
    return str(Topic(Kind.UPSTREAM_IN, store, None, message_type))


def upstream_subscription(store: str) -> str:
    """What the gateway subscribes to from upstream: everything the bridge carries down."""
    _checked(store, None, "in")
    return f"store/{store}/upstream/in/+"


def upstream_link_topic(store: str) -> str:
    """Where the store's broker says whether its bridge to upstream is up ("1") or down ("0"), retained."""
    _checked(store, None, "link")
    return f"store/{store}/upstream/link"


def cmd_subscription(store: str) -> str:
    """What the gateway subscribes to for the commands retained on any node's topics (which it
    clears); a node subscribes to each of its commands by name (`cmd_topic`)."""
    _checked(store, None, "cmd")
    return f"store/{store}/node/+/cmd/+"


def node_subscriptions(store: str) -> tuple[str, str]:
    """What the gateway subscribes to: every node's events and state."""
    return f"store/{store}/node/+/event/+", f"store/{store}/node/+/state"


def gateway_prefix(store: str) -> str:
    return f"store/{store}/gateway"


def gateway_state_topic(store: str) -> str:
    """The gateway's retained availability; nodes wait for it before sending events."""
    return f"{gateway_prefix(store)}/state"


def gateway_device_topic(store: str, node: str) -> str:
    _checked(store, node, "devices")
    return f"{gateway_prefix(store)}/devices/{node}"


def gateway_session_topic(store: str, session: str) -> str:
    return f"{gateway_prefix(store)}/sessions/{session}"


def gateway_shelf_topic(store: str, shelf: str) -> str:
    _checked(store, shelf, "shelves")
    return f"{gateway_prefix(store)}/shelves/{shelf}"


def gateway_alerts_topic(store: str) -> str:
    return f"{gateway_prefix(store)}/alerts"


def dashboard_subscriptions(store: str) -> tuple[str, ...]:
    """What a dashboard subscribes to: the gateway's whole tree (retained state and alerts)."""
    return (f"{gateway_prefix(store)}/#",)


@lru_cache(maxsize=4096)
def parse_topic(topic: str) -> Topic:
    """Parse a topic (cached: a store has few distinct topics, and the gateway parses every message's)."""
    parts = topic.split("/")
    if len(parts) >= 4 and parts[0] == "store" and _ID.fullmatch(parts[1]):
        store, area = parts[1], parts[2]
        if area == "node" and _ID.fullmatch(parts[3]):
            if len(parts) == 5 and parts[4] == "state":
                return Topic(Kind.STATE, store, parts[3], "state")
            if len(parts) == 6 and parts[4] in ("event", "cmd") and _TYPE.fullmatch(parts[5]):
                return Topic(Kind.EVENT if parts[4] == "event" else Kind.CMD, store, parts[3], parts[5])
        if area == "upstream" and len(parts) == 5 and parts[3] in ("out", "in") and _TYPE.fullmatch(parts[4]):
            return Topic(Kind.UPSTREAM_OUT if parts[3] == "out" else Kind.UPSTREAM_IN, store, None, parts[4])
    raise ProtocolError(Reason.BAD_TOPIC, f"topic {topic!r} is not a v1 topic")

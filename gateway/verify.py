"""Verification of what devices publish, and of upstream's decisions, in the order the wire
protocol fixes: topic, sender and role, size, signature, schema, header against topic.
Pure: registry and upstream's key in, verdict out."""

from dataclasses import dataclass

from nacl.signing import VerifyKey

from edge.protocol.envelope import check_size, open_envelope
from edge.protocol.errors import ProtocolError, Reason
from edge.protocol.messages import UNSEQUENCED_TYPES, AnyMessage, decode_message
from edge.protocol.roles import Role, may_send
from edge.protocol.topics import Kind, Topic, parse_topic
from gateway.assigned import Assignments
from gateway.registry import Registry


@dataclass(frozen=True, slots=True)
class Verified:
    topic: Topic
    message: AnyMessage
    data: bytes


@dataclass(frozen=True, slots=True)
class UpstreamSender:
    """Who signs what comes down from upstream: its id (the `dev` of its messages) and key."""

    id: str
    key: VerifyKey


def sender_of(topic: str) -> str:
    """The node a topic names, for counting rejects; 'upstream' for what comes down from
    upstream; '-' when the topic names neither."""
    try:
        where = parse_topic(topic)
    except ProtocolError:
        return "-"
    return where.node or ("upstream" if where.kind is Kind.UPSTREAM_IN else "-")


class Verifier:
    def __init__(
        self, registry: Registry, upstream: UpstreamSender | None = None, assignments: Assignments | None = None
    ) -> None:
        """`assignments`: what the store layout lets each device report (by default what can be
        told without a layout)."""
        self._registry = registry
        self._upstream = upstream
        self._assignments = assignments or Assignments()

    def verify(self, topic: str, payload: bytes) -> Verified:
        """Every check of a message on its own: authentic, then assigned to its sender."""
        verified = self.authentic(topic, payload)
        self.check_assigned(verified)
        return verified

    def check_assigned(self, verified: Verified) -> None:
        """`not_assigned` unless the layout lets the sender report what the message names."""
        if verified.topic.kind is not Kind.UPSTREAM_IN:
            self._assignments.check(verified.message)

    def authentic(self, topic: str, payload: bytes) -> Verified:
        """Topic, sender and role, size, signature, schema, header against topic: what the
        sequence checks need to know before the message's body is judged."""
        where = parse_topic(topic)
        if where.store == self._registry.store and where.kind is Kind.UPSTREAM_IN:
            return self._from_upstream(where, topic, payload)
        if where.store != self._registry.store or where.kind not in (Kind.EVENT, Kind.STATE) or where.node is None:
            raise ProtocolError(Reason.BAD_TOPIC, f"{topic} is not a device topic of store {self._registry.store}")
        device = self._registry.get(where.node)
        if device is None:
            raise ProtocolError(Reason.UNKNOWN_DEVICE, f"{where.node} is not in the registry")
        if where.kind is Kind.EVENT and not may_send(device.role, where.name):
            raise ProtocolError(Reason.ROLE_FORBIDDEN, f"{device.role} {where.node} may not send {where.name}")
        check_size(payload)
        data = open_envelope(device.key, payload)
        message = decode_message(data)
        if message.dev != where.node or message.type != where.name:
            raise ProtocolError(Reason.HEADER_MISMATCH, f"{message.type} from {message.dev} published on {topic}")
        if (message.seq == 0) != (message.type in UNSEQUENCED_TYPES):
            raise ProtocolError(Reason.HEADER_MISMATCH, f"{message.type} with seq {message.seq} on {topic}")
        return Verified(where, message, data)

    def _from_upstream(self, where: Topic, topic: str, payload: bytes) -> Verified:
        if self._upstream is None:
            raise ProtocolError(Reason.UNKNOWN_DEVICE, "this gateway has no upstream key to check upstream's messages")
        if not may_send(Role.UPSTREAM, where.name):
            raise ProtocolError(Reason.ROLE_FORBIDDEN, f"upstream may not send {where.name}")
        check_size(payload)
        data = open_envelope(self._upstream.key, payload)
        message = decode_message(data)
        if message.dev != self._upstream.id or message.type != where.name or message.seq == 0:
            detail = f"{message.type} from {message.dev} seq {message.seq} on {topic}"
            raise ProtocolError(Reason.HEADER_MISMATCH, detail)
        return Verified(where, message, data)

"""Verification of what devices publish, in the order the wire protocol fixes: topic, sender
and role, size, signature, schema, header against topic. Pure: registry in, verdict out."""

from dataclasses import dataclass

from edge.protocol.envelope import check_size, open_envelope
from edge.protocol.errors import ProtocolError, Reason
from edge.protocol.messages import AnyMessage, decode_message
from edge.protocol.roles import may_send
from edge.protocol.topics import Kind, Topic, parse_topic
from gateway.registry import Registry


@dataclass(frozen=True, slots=True)
class Verified:
    topic: Topic
    message: AnyMessage
    data: bytes


def sender_of(topic: str) -> str:
    """The node a topic names, for counting rejects; '-' when the topic names none."""
    try:
        return parse_topic(topic).node or "-"
    except ProtocolError:
        return "-"


class Verifier:
    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def verify(self, topic: str, payload: bytes) -> Verified:
        where = parse_topic(topic)
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
        if (message.seq == 0) != (where.kind is Kind.STATE):
            raise ProtocolError(Reason.HEADER_MISMATCH, f"{message.type} with seq {message.seq} on {topic}")
        return Verified(where, message, data)

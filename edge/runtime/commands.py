"""Command intake: a node obeys only fresh, non-retained commands signed by its gateway,
each newer than the last one it obeyed. Pure: the caller supplies the clock."""

from nacl.signing import VerifyKey

from edge.protocol.envelope import open_envelope
from edge.protocol.errors import ProtocolError, Reason
from edge.protocol.messages import COMMAND_TYPES, Deny, Open, decode_message
from edge.protocol.topics import Kind, parse_topic

Command = Open | Deny

# A command stamped further ahead of the node's clock than this is treated as stale too:
# it means the clocks disagree, and a TTL cannot be trusted then.
MAX_FUTURE_MS = 5_000


class CommandGuard:
    def __init__(self, store: str, node: str, gateway_id: str, gateway_key: VerifyKey, last: tuple[int, int]) -> None:
        self._store = store
        self._node = node
        self._gateway_id = gateway_id
        self._key = gateway_key
        self.last = last

    def check(self, topic: str, payload: bytes, retained: bool, now_ms: int) -> Command:
        """Return the command if it may be obeyed, else raise ProtocolError; `last` moves only on success."""
        if retained:
            raise ProtocolError(Reason.RETAINED, f"retained command on {topic} ignored")
        where = parse_topic(topic)
        if where.kind is not Kind.CMD or where.store != self._store or where.node != self._node:
            raise ProtocolError(Reason.BAD_TOPIC, f"{topic} is not this node's command topic")
        if where.name not in COMMAND_TYPES:
            raise ProtocolError(Reason.UNKNOWN_TYPE, f"command {where.name!r} is not a v1 command")
        message = decode_message(open_envelope(self._key, payload))
        if not isinstance(message, (Open, Deny)) or message.type != where.name or message.dev != self._gateway_id:
            raise ProtocolError(Reason.HEADER_MISMATCH, f"{message.type} from {message.dev} on {topic}")
        if message.node != self._node:
            # The signature does not cover the topic: the target inside it stops a command
            # for one node being replayed on another's topic.
            raise ProtocolError(Reason.HEADER_MISMATCH, f"command for {message.node} on {topic}")
        if (message.boot, message.seq) <= self.last:
            raise ProtocolError(Reason.REPLAY, f"command {message.boot}/{message.seq} is not newer than {self.last}")
        if now_ms > message.ts + message.ttl_ms or message.ts > now_ms + MAX_FUTURE_MS:
            raise ProtocolError(Reason.STALE, f"command stamped {message.ts} with ttl {message.ttl_ms} at {now_ms}")
        self.last = (message.boot, message.seq)
        return message

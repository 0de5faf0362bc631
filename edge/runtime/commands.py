"""Command intake: a node obeys only fresh, non-retained commands signed by its gateway,
each newer than the last one it obeyed; and it takes the gateway's answer to its `hello`
only if it echoes the nonce. Pure: the caller supplies the clock."""

from nacl.signing import VerifyKey

from edge.protocol.envelope import open_envelope
from edge.protocol.errors import ProtocolError, Reason
from edge.protocol.messages import COMMAND_TYPES, AnyMessage, BootAnswer, Deny, Open, decode_message
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
        message = self._from_gateway(topic, payload, retained)
        if not isinstance(message, (Open, Deny)):
            raise ProtocolError(Reason.HEADER_MISMATCH, f"{message.type} on {topic} is not a command to obey")
        if (message.boot, message.seq) <= self.last:
            raise ProtocolError(Reason.REPLAY, f"command {message.boot}/{message.seq} is not newer than {self.last}")
        if now_ms > message.ts + message.ttl_ms or message.ts > now_ms + MAX_FUTURE_MS:
            raise ProtocolError(Reason.STALE, f"command stamped {message.ts} with ttl {message.ttl_ms} at {now_ms}")
        self.last = (message.boot, message.seq)
        return message

    def boot_answer(self, topic: str, payload: bytes, retained: bool, nonce: str) -> int:
        """The newest boot the gateway holds from this node, from its answer to the hello that
        carried `nonce`; else raise ProtocolError. The nonce, random and asked once, is what
        makes it fresh: the clock is not consulted, since a node just powered on may not have
        set it yet (a Pi has no clock battery). `last` does not move: this obeys nothing."""
        message = self._from_gateway(topic, payload, retained)
        if not isinstance(message, BootAnswer):
            raise ProtocolError(Reason.HEADER_MISMATCH, f"{message.type} on {topic} is not a boot answer")
        if message.nonce != nonce:
            raise ProtocolError(Reason.REPLAY, "a boot answer to another hello")
        return message.last_boot

    def _from_gateway(self, topic: str, payload: bytes, retained: bool) -> AnyMessage:
        """A message on this node's command topic, signed by its gateway and naming it."""
        if retained:
            raise ProtocolError(Reason.RETAINED, f"retained command on {topic} ignored")
        where = parse_topic(topic)
        if where.kind is not Kind.CMD or where.store != self._store or where.node != self._node:
            raise ProtocolError(Reason.BAD_TOPIC, f"{topic} is not this node's command topic")
        if where.name not in COMMAND_TYPES:
            raise ProtocolError(Reason.UNKNOWN_TYPE, f"command {where.name!r} is not a v1 command")
        message = decode_message(open_envelope(self._key, payload))
        if (
            not isinstance(message, (Open, Deny, BootAnswer))
            or message.type != where.name
            or message.dev != self._gateway_id
        ):
            raise ProtocolError(Reason.HEADER_MISMATCH, f"{message.type} from {message.dev} on {topic}")
        if message.node != self._node:
            # The signature does not cover the topic: the target inside it stops a command
            # for one node being replayed on another's topic.
            raise ProtocolError(Reason.HEADER_MISMATCH, f"command for {message.node} on {topic}")
        return message

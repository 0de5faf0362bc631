"""gateway/commands.py: commands stamped with the gateway's header and signed with its key."""

import pytest
from nacl.signing import SigningKey

from edge.protocol.envelope import open_envelope
from edge.protocol.errors import ProtocolError, Reason
from edge.protocol.messages import Deny, Open, decode_message
from edge.protocol.topics import Kind, parse_topic
from gateway.commands import CommandSigner

GATEWAY_KEY = SigningKey.generate()


def open_command(req: str = "r1") -> Open:
    return Open(v=1, dev="placeholder", boot=0, seq=0, ts=0, node="unset", req=req, session="sess-1", ttl_ms=5_000)


def test_open_is_stamped_signed_and_addressed() -> None:
    signer = CommandSigner("s1", "gw", 7, GATEWAY_KEY)
    topic, payload = signer.sign("gate-1", open_command(), 1_700_000_000_123)
    assert topic == "store/s1/node/gate-1/cmd/open"
    parsed = parse_topic(topic)
    assert (parsed.kind, parsed.store, parsed.node, parsed.name) == (Kind.CMD, "s1", "gate-1", "open")
    message = decode_message(open_envelope(GATEWAY_KEY.verify_key, payload))
    assert message == Open(
        v=1, dev="gw", boot=7, seq=1, ts=1_700_000_000_123, node="gate-1", req="r1", session="sess-1", ttl_ms=5_000
    )


def test_seq_increases_across_commands_and_nodes() -> None:
    signer = CommandSigner("s1", "gw", 3, GATEWAY_KEY)
    stamped = []
    for index, node in enumerate(["gate-1", "gate-2", "gate-1"]):
        _, payload = signer.sign(node, open_command(f"r{index}"), 1_000 + index)
        stamped.append(decode_message(open_envelope(GATEWAY_KEY.verify_key, payload)))
    deny = Deny(v=1, dev="x", boot=99, seq=99, ts=99, node="unset", req="r9", reason="no-match", ttl_ms=1_000)
    topic, payload = signer.sign("gate-2", deny, 2_000)
    stamped.append(decode_message(open_envelope(GATEWAY_KEY.verify_key, payload)))
    assert topic == "store/s1/node/gate-2/cmd/deny"
    assert [m.seq for m in stamped] == [1, 2, 3, 4]
    assert [m.ts for m in stamped] == [1_000, 1_001, 1_002, 2_000]
    assert {(m.dev, m.boot) for m in stamped} == {("gw", 3)}
    assert isinstance(stamped[-1], Deny)
    assert (stamped[-1].req, stamped[-1].reason) == ("r9", "no-match")


def test_the_given_command_is_left_untouched() -> None:
    command = open_command()
    CommandSigner("s1", "gw", 1, GATEWAY_KEY).sign("gate-1", command, 5)
    assert (command.dev, command.boot, command.seq, command.ts) == ("placeholder", 0, 0, 0)


def test_payload_does_not_verify_with_another_key() -> None:
    _, payload = CommandSigner("s1", "gw", 1, GATEWAY_KEY).sign("gate-1", open_command(), 5)
    with pytest.raises(ProtocolError) as caught:
        open_envelope(SigningKey.generate().verify_key, payload)
    assert caught.value.reason is Reason.BAD_SIGNATURE


def test_signers_count_separately() -> None:
    first = CommandSigner("s1", "gw", 1, GATEWAY_KEY)
    second = CommandSigner("s1", "gw", 2, GATEWAY_KEY)
    first.sign("gate-1", open_command(), 1)
    _, payload = second.sign("gate-1", open_command(), 2)
    message = decode_message(open_envelope(GATEWAY_KEY.verify_key, payload))
    assert (message.boot, message.seq) == (2, 1)

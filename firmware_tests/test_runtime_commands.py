"""Command intake: a node obeys only fresh, non-retained, newer commands signed by its own gateway."""

from collections.abc import Callable

import msgspec
import pytest
from nacl.signing import SigningKey

from edge.protocol.envelope import seal
from edge.protocol.errors import ProtocolError, Reason
from edge.protocol.messages import BootAnswer, Deny, Open, State, encode_message
from edge.protocol.topics import cmd_topic, event_topic, state_topic
from edge.runtime.commands import MAX_FUTURE_MS, CommandGuard
from gateway.commands import CommandSigner

STORE = "store-1"
NODE = "gate-1"
GATEWAY = "gateway"
NOW = 1_700_000_000_000
TTL = 5_000
GATEWAY_KEY = SigningKey.generate()

Payload = tuple[str, bytes]


def open_command(ttl_ms: int = TTL) -> Open:
    return Open(v=1, dev="x", boot=0, seq=0, ts=0, node="unset", req="req-1", session="sess-1", ttl_ms=ttl_ms)


def deny_command() -> Deny:
    return Deny(v=1, dev="x", boot=0, seq=0, ts=0, node="unset", req="req-2", reason="no-account", ttl_ms=TTL)


def signer(
    boot: int = 4, key: SigningKey = GATEWAY_KEY, gateway_id: str = GATEWAY, store: str = STORE
) -> CommandSigner:
    return CommandSigner(store, gateway_id, boot, key)


def guard(last: tuple[int, int] = (0, 0)) -> CommandGuard:
    return CommandGuard(STORE, NODE, GATEWAY, GATEWAY_KEY.verify_key, last)


def refused(checker: CommandGuard, topic: str, payload: bytes, now_ms: int = NOW, retained: bool = False) -> Reason:
    before = checker.last
    with pytest.raises(ProtocolError) as caught:
        checker.check(topic, payload, retained, now_ms)
    assert checker.last == before
    return caught.value.reason


def test_fresh_open_is_accepted() -> None:
    topic, payload = signer().sign(NODE, open_command(), NOW)
    assert topic == cmd_topic(STORE, NODE, "open")
    checker = guard()
    command = checker.check(topic, payload, False, NOW + 100)
    assert isinstance(command, Open)
    assert (command.dev, command.boot, command.seq, command.ts) == (GATEWAY, 4, 1, NOW)
    assert (command.req, command.session, command.ttl_ms) == ("req-1", "sess-1", TTL)
    assert checker.last == (4, 1)


def test_fresh_deny_is_accepted() -> None:
    topic, payload = signer().sign(NODE, deny_command(), NOW)
    assert topic == cmd_topic(STORE, NODE, "deny")
    checker = guard()
    command = checker.check(topic, payload, False, NOW)
    assert isinstance(command, Deny)
    assert command.reason == "no-account"
    assert checker.last == (4, 1)


def test_successive_commands_are_accepted_in_order() -> None:
    gateway = signer()
    checker = guard()
    for step in range(1, 6):
        if step % 2:
            topic, payload = gateway.sign(NODE, open_command(), NOW + step)
        else:
            topic, payload = gateway.sign(NODE, deny_command(), NOW + step)
        checker.check(topic, payload, False, NOW + step)
        assert checker.last == (4, step)


def test_newer_boot_with_lower_seq_is_accepted() -> None:
    checker = guard(last=(4, 900))
    topic, payload = signer(boot=5).sign(NODE, open_command(), NOW)
    checker.check(topic, payload, False, NOW)
    assert checker.last == (5, 1)


def test_retained_is_refused() -> None:
    topic, payload = signer().sign(NODE, open_command(), NOW)
    assert refused(guard(), topic, payload, retained=True) is Reason.RETAINED


def test_signed_by_another_key_is_refused() -> None:
    topic, payload = signer(key=SigningKey.generate()).sign(NODE, open_command(), NOW)
    assert refused(guard(), topic, payload) is Reason.BAD_SIGNATURE


def test_unsigned_plain_json_is_refused() -> None:
    command = msgspec.structs.replace(open_command(), dev=GATEWAY, boot=4, seq=1, ts=NOW)
    plain = encode_message(command)
    assert len(plain) > 64
    assert refused(guard(), cmd_topic(STORE, NODE, "open"), plain) is Reason.BAD_SIGNATURE


def test_short_unsigned_payload_is_refused() -> None:
    assert refused(guard(), cmd_topic(STORE, NODE, "open"), b'{"type":"open"}') is Reason.BAD_SIGNATURE


def test_same_payload_twice_is_a_replay() -> None:
    topic, payload = signer().sign(NODE, open_command(), NOW)
    checker = guard()
    checker.check(topic, payload, False, NOW)
    assert refused(checker, topic, payload, now_ms=NOW + 1) is Reason.REPLAY
    assert checker.last == (4, 1)


def test_older_seq_than_last_is_a_replay() -> None:
    gateway = signer()
    first = gateway.sign(NODE, open_command(), NOW)
    second = gateway.sign(NODE, deny_command(), NOW)
    checker = guard()
    checker.check(*second, False, NOW)
    assert refused(checker, *first) is Reason.REPLAY


def test_older_boot_than_last_is_a_replay() -> None:
    gateway = signer(boot=3)
    topic, payload = [gateway.sign(NODE, open_command(), NOW) for _ in range(50)][-1]
    assert refused(guard(last=(4, 1)), topic, payload) is Reason.REPLAY


def test_stale_command_is_refused() -> None:
    topic, payload = signer().sign(NODE, open_command(), NOW)
    assert refused(guard(), topic, payload, now_ms=NOW + TTL + 1) is Reason.STALE


def test_command_at_the_end_of_its_ttl_is_accepted() -> None:
    topic, payload = signer().sign(NODE, open_command(), NOW)
    guard().check(topic, payload, False, NOW + TTL)


def test_command_far_in_the_future_is_refused() -> None:
    topic, payload = signer().sign(NODE, open_command(), NOW + MAX_FUTURE_MS + 1)
    assert refused(guard(), topic, payload, now_ms=NOW) is Reason.STALE


def test_command_slightly_ahead_is_accepted() -> None:
    topic, payload = signer().sign(NODE, open_command(), NOW + MAX_FUTURE_MS)
    guard().check(topic, payload, False, NOW)


def test_refused_stale_command_does_not_block_a_fresh_one() -> None:
    gateway = signer()
    checker = guard()
    stale = gateway.sign(NODE, open_command(), NOW - 60_000)
    fresh = gateway.sign(NODE, open_command(), NOW)
    assert refused(checker, *stale) is Reason.STALE
    checker.check(*fresh, False, NOW)
    assert checker.last == (4, 2)


@pytest.mark.parametrize(
    "topic",
    [
        cmd_topic(STORE, "gate-2", "open"),
        cmd_topic("store-2", NODE, "open"),
        event_topic(STORE, NODE, "open"),
        state_topic(STORE, NODE),
        f"store/{STORE}/upstream/in/open",
        f"store/{STORE}/node/{NODE}/cmd/open/x",
        "not/a/topic",
    ],
    ids=["other-node", "other-store", "event", "state", "upstream", "extra-segment", "garbage"],
)
def test_wrong_topic_is_refused(topic: str) -> None:
    _, payload = signer().sign(NODE, open_command(), NOW)
    assert refused(guard(), topic, payload) is Reason.BAD_TOPIC


def test_command_signed_for_another_store_is_refused() -> None:
    topic, payload = signer(store="store-2").sign(NODE, open_command(), NOW)
    assert topic == cmd_topic("store-2", NODE, "open")
    assert refused(guard(), topic, payload) is Reason.BAD_TOPIC


@pytest.mark.parametrize("name", ["reboot", "unlock", "state", "weight"])
def test_unknown_command_name_is_refused(name: str) -> None:
    _, payload = signer().sign(NODE, open_command(), NOW)
    assert refused(guard(), cmd_topic(STORE, NODE, name), payload) is Reason.UNKNOWN_TYPE


def test_header_type_differing_from_topic_is_refused() -> None:
    _, payload = signer().sign(NODE, open_command(), NOW)
    assert refused(guard(), cmd_topic(STORE, NODE, "deny"), payload) is Reason.HEADER_MISMATCH
    _, payload = signer().sign(NODE, deny_command(), NOW)
    assert refused(guard(), cmd_topic(STORE, NODE, "open"), payload) is Reason.HEADER_MISMATCH


def test_non_command_message_signed_by_the_gateway_is_refused() -> None:
    state = State(v=1, dev=GATEWAY, boot=4, seq=1, ts=NOW, state="online")
    payload = seal(GATEWAY_KEY, encode_message(state))
    assert refused(guard(), cmd_topic(STORE, NODE, "open"), payload) is Reason.HEADER_MISMATCH


def test_sender_other_than_the_configured_gateway_is_refused() -> None:
    topic, payload = signer(gateway_id="gateway-2").sign(NODE, open_command(), NOW)
    assert refused(guard(), topic, payload) is Reason.HEADER_MISMATCH


def test_signed_garbage_is_refused_by_decoding() -> None:
    payload = seal(GATEWAY_KEY, b'{"type":"open","v":1}')
    assert refused(guard(), cmd_topic(STORE, NODE, "open"), payload) is Reason.MISSING_FIELD


def test_signed_command_with_invalid_utf8_is_refused_as_not_json() -> None:
    command = msgspec.structs.replace(open_command(), dev=GATEWAY, boot=4, seq=1, ts=NOW)
    message = encode_message(command).replace(b'"sess-1"', b'"sess-\xff"')
    payload = seal(GATEWAY_KEY, message)
    assert refused(guard(), cmd_topic(STORE, NODE, "open"), payload) is Reason.NOT_JSON


def test_command_for_another_node_cannot_be_replayed_on_this_nodes_topic() -> None:
    gateway = signer()
    _, payload = gateway.sign("gate-2", open_command(), NOW)
    checker = guard()
    with pytest.raises(ProtocolError):
        checker.check(cmd_topic(STORE, NODE, "open"), payload, False, NOW)
    assert checker.last == (0, 0)


RefusalCase = Callable[[], tuple[str, bytes, int, bool]]


def _cases() -> dict[str, RefusalCase]:
    fresh = signer(boot=9)
    return {
        "retained": lambda: (*fresh.sign(NODE, open_command(), NOW), NOW, True),
        "bad-signature": lambda: (
            *signer(boot=9, key=SigningKey.generate()).sign(NODE, open_command(), NOW),
            NOW,
            False,
        ),
        "stale": lambda: (*fresh.sign(NODE, open_command(), NOW), NOW + TTL + 1, False),
        "future": lambda: (*fresh.sign(NODE, open_command(), NOW + MAX_FUTURE_MS + 1), NOW, False),
        "bad-topic": lambda: (cmd_topic(STORE, "gate-9", "open"), fresh.sign(NODE, open_command(), NOW)[1], NOW, False),
        "unknown-type": lambda: (
            cmd_topic(STORE, NODE, "reboot"),
            fresh.sign(NODE, open_command(), NOW)[1],
            NOW,
            False,
        ),
        "header-type": lambda: (cmd_topic(STORE, NODE, "deny"), fresh.sign(NODE, open_command(), NOW)[1], NOW, False),
        "sender": lambda: (*signer(boot=9, gateway_id="other").sign(NODE, open_command(), NOW), NOW, False),
    }


@pytest.mark.parametrize("case", sorted(_cases()))
def test_last_does_not_move_on_any_refusal(case: str) -> None:
    topic, payload, now_ms, retained = _cases()[case]()
    checker = guard(last=(2, 7))
    with pytest.raises(ProtocolError):
        checker.check(topic, payload, retained, now_ms)
    assert checker.last == (2, 7)
    follow_up = signer(boot=10).sign(NODE, open_command(), NOW)
    checker.check(*follow_up, False, NOW)
    assert checker.last == (10, 1)


def boot_answer(nonce: str = "nonce-1", node: str = NODE, last_boot: int = 6) -> BootAnswer:
    return BootAnswer(v=1, dev="x", boot=0, seq=0, ts=0, node=node, nonce=nonce, last_boot=last_boot)


def test_a_boot_answer_to_this_hello_is_taken_whatever_the_clock_and_moves_nothing() -> None:
    checker = guard(last=(4, 9))
    topic, payload = signer().sign(NODE, boot_answer(), 1_000)  # stamped by a gateway whose clock is far off
    assert topic == cmd_topic(STORE, NODE, "boot")
    assert checker.boot_answer(topic, payload, False, "nonce-1") == 6
    assert checker.last == (4, 9)


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("another nonce", Reason.REPLAY),
        ("retained", Reason.RETAINED),
        ("another node", Reason.HEADER_MISMATCH),
        ("forged", Reason.BAD_SIGNATURE),
        ("an open", Reason.HEADER_MISMATCH),
    ],
)
def test_a_boot_answer_that_does_not_check_out_is_refused(case: str, reason: Reason) -> None:
    topic, payload = signer().sign(NODE, boot_answer(), NOW)
    retained = case == "retained"
    if case == "another nonce":
        _, payload = signer().sign(NODE, boot_answer(nonce="nonce-2"), NOW)
    elif case == "another node":
        payload = seal(GATEWAY_KEY, encode_message(msgspec.structs.replace(boot_answer(node="gate-2"), dev=GATEWAY)))
    elif case == "forged":
        _, payload = signer(key=SigningKey.generate()).sign(NODE, boot_answer(), NOW)
    elif case == "an open":
        _, payload = signer().sign(NODE, open_command(), NOW)
    with pytest.raises(ProtocolError) as caught:
        guard().boot_answer(topic, payload, retained, "nonce-1")
    assert caught.value.reason == reason


def test_a_boot_answer_is_never_obeyed_as_a_command() -> None:
    topic, payload = signer().sign(NODE, boot_answer(), NOW)
    assert refused(guard(), topic, payload) == Reason.HEADER_MISMATCH

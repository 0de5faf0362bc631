"""Issue 20, items 3-5: no single message may lock a device out (bounds on boot, seq and ts,
and an operator's reset of a device's marks), a device reports only what the layout assigns
it (`not_assigned`), and hostile JSON (deep nesting, duplicate keys) is a rejection with a
reason of its own, at the gateway and at a node alike."""

from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from nacl.signing import SigningKey

from edge.protocol.envelope import seal
from edge.protocol.errors import ProtocolError, Reason
from edge.protocol.messages import (
    UNSTAMPED,
    Alarm,
    Decision,
    Hello,
    Interaction,
    Message,
    Passage,
    State,
    Telemetry,
    Weight,
    decode_message,
    encode_message,
)
from edge.protocol.roles import Role
from edge.protocol.topics import cmd_topic, event_topic, state_topic, upstream_in_topic
from edge.runtime.commands import CommandGuard
from gateway.assigned import Assignments
from gateway.ingest import TS_AHEAD_MS, Incoming, IngestCore
from gateway.journal import Journal, JournalInsert
from gateway.layout import SMALL_STORE, load_layout
from gateway.registry import Device, Registry
from gateway.sequence import BOOT_STEP, reachable_boot
from gateway.verify import UpstreamSender, Verifier

STORE = "demo"
T0 = 1_700_000_000_000
WINDOW = 64
NODES = {"shelf-01": Role.SHELF, "shelf-02": Role.SHELF, "camera-01": Role.CAMERA, "gate-01": Role.GATE}
KEYS = {node: SigningKey.generate() for node in NODES}


def registry() -> Registry:
    made = Registry(STORE)
    for node, role in NODES.items():
        made.add(Device(node, role, KEYS[node].verify_key, "-"))
    return made


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    opened = Journal(tmp_path / "journal.db", sync="normal")
    yield opened
    opened.close()


@pytest.fixture
def core(journal: Journal) -> IngestCore:
    return IngestCore(Verifier(registry(), assignments=Assignments.of(load_layout(SMALL_STORE))), journal, WINDOW)


def stamped(message: Message, dev: str, boot: int, seq: int, ts: int) -> Message:
    return msgspec.structs.replace(message, dev=dev, boot=boot, seq=seq, ts=ts)


def sent(message: Message, recv_ms: int | None = None, topic: str | None = None) -> Incoming:
    where = topic or (
        state_topic(STORE, message.dev) if message.seq == 0 else event_topic(STORE, message.dev, message.type)
    )
    return Incoming(where, seal(KEYS[message.dev], encode_message(message)), recv_ms or message.ts + 20)


def weight(boot: int, seq: int, dev: str = "shelf-01", shelf: str = "shelf-01", lane: int = 1, ts: int = 0) -> Incoming:
    body = Weight(
        **UNSTAMPED, shelf=shelf, lane=lane, t0=T0, t1=T0 + 400, delta_mg=-355_000, before_mg=2_000_000,
        after_mg=1_645_000, noise_mg=400,
    )  # fmt: skip
    made = T0 + min(boot, 1_000) * 1_000_000 + min(seq, 100_000)
    return sent(stamped(body, dev, boot, seq, ts or made), recv_ms=made + 20)


def reasons(core: IngestCore, *batch: Incoming) -> list[Reason | None]:
    """Per message, its reject reason, or None when it was journaled."""
    result = core.process(list(batch))
    refused = {id(r.incoming): r.error.reason for r in result.rejected}
    return [refused.get(id(incoming)) for incoming in batch]


# Bounds on boot, seq and ts


def test_a_boot_far_ahead_is_refused_and_the_genuine_device_goes_on(core: IngestCore, journal: Journal) -> None:
    assert reasons(core, weight(3, 1), weight(3, 2)) == [None, None]
    assert reasons(core, weight(2**53, 1)) == [Reason.BOOT_JUMP]
    assert reasons(core, weight(3 + BOOT_STEP + 1, 1)) == [Reason.BOOT_JUMP]
    assert reasons(core, weight(3, 3), weight(4, 1)) == [None, None]
    assert core.sequencing.high["shelf-01"] == (4, 1)
    assert journal.devices()["shelf-01"].boot == 4


def test_a_state_cannot_jump_the_boot_either(core: IngestCore) -> None:
    core.process([weight(3, 1)])
    hostile = sent(State(v=1, dev="shelf-01", boot=2**40, seq=0, ts=T0, state="online"))
    assert reasons(core, hostile) == [Reason.BOOT_JUMP]
    assert core.sequencing.newest_boot["shelf-01"] == 3


def test_a_seq_far_ahead_is_refused_and_one_within_the_window_locks_nothing_out(core: IngestCore) -> None:
    core.process([weight(1, seq) for seq in range(1, 11)])
    assert reasons(core, weight(1, 10**9), weight(1, 10 + WINDOW + 1)) == [Reason.SEQ_JUMP, Reason.SEQ_JUMP]
    # The largest jump let in still leaves every genuine number after the mark inside the window.
    assert reasons(core, weight(1, 10 + WINDOW)) == [None]
    genuine = [weight(1, seq) for seq in range(11, 11 + WINDOW - 1)]
    assert reasons(core, *genuine) == [None] * len(genuine)


def test_a_new_boot_starts_within_one_window(core: IngestCore) -> None:
    core.process([weight(1, 1)])
    assert reasons(core, weight(2, WINDOW + 1)) == [Reason.SEQ_JUMP]
    assert reasons(core, weight(2, 1)) == [None]


def test_a_device_with_no_marks_is_not_bounded(core: IngestCore) -> None:
    """A gateway with a fresh journal must take a fleet that has been running for years."""
    assert reasons(core, weight(5_000, 90_000)) == [None]


def test_a_timestamp_far_ahead_is_refused_and_leaves_the_clock_estimate_alone(core: IngestCore) -> None:
    core.process([weight(1, 1)])
    offset = core.clocks["shelf-01"].offset_ms
    recv = T0 + 1_000_000 + 2 + 20
    assert reasons(core, weight(1, 2, ts=2**53)) == [Reason.TS_AHEAD]
    assert reasons(core, weight(1, 2, ts=recv + TS_AHEAD_MS + 1)) == [Reason.TS_AHEAD]
    assert core.clocks["shelf-01"].offset_ms == offset
    assert reasons(core, weight(1, 2, ts=recv + TS_AHEAD_MS)) == [None]


def test_an_operator_reset_unlocks_a_device_locked_out_before_the_bounds(core: IngestCore, journal: Journal) -> None:
    """A journal from before the bounds may hold a boot of 2^53: the marks come from the journal,
    so only a reset of them lets the device's genuine messages in again."""
    assert reasons(core, weight(2**53, 1)) == [None]  # no marks yet: taken, as before the bounds
    assert reasons(core, weight(3, 1)) == [Reason.REPLAY]
    journal.reset_marks("shelf-01", T0)
    assert journal.marks_generation() == 1
    core.reload_marks()
    assert journal.devices()["shelf-01"].boot == 0
    assert reasons(core, weight(3, 1), weight(3, 2)) == [None, None]
    assert core.sequencing.high["shelf-01"] == (3, 2)
    # The reset survives a restart: marks are rebuilt from what followed it.
    restarted = IngestCore(Verifier(registry()), journal, WINDOW)
    assert restarted.sequencing.high["shelf-01"] == (3, 2)
    assert reasons(restarted, weight(3, 2), weight(3, 3)) == [None, None]
    assert restarted.process([weight(3, 1)]).duplicates == 1
    assert len(list(journal.rows(dev="shelf-01"))) == 4, "the hostile message stays in the journal for audit"


# not_assigned


def telemetry(dev: str, shelf: str, lanes: list[int]) -> Incoming:
    body = Telemetry(**UNSTAMPED, shelf=shelf, lanes=[(lane, 1_000) for lane in lanes])
    return sent(stamped(body, dev, 1, 1, T0))


def interaction(shelf: str, lanes: list[int]) -> Incoming:
    body = Interaction(
        **UNSTAMPED, shelf=shelf, lanes=lanes, t0=T0, t1=T0 + 500, x_mm=750, y_mm=3300, conf_pm=900, holding="item"
    )
    return sent(stamped(body, "camera-01", 1, 1, T0))


def passage(gate: str) -> Incoming:
    body = Passage(**UNSTAMPED, gate=gate, dir="in", t=T0, grant=None, x_mm=700, y_mm=150)
    return sent(stamped(body, "gate-01", 1, 1, T0))


def refusal(verifier: Verifier, incoming: Incoming) -> Reason | None:
    try:
        verifier.verify(incoming.topic, incoming.payload)
    except ProtocolError as error:
        return error.reason
    return None


def test_a_device_reports_only_what_the_layout_assigns_it() -> None:
    verifier = Verifier(registry(), assignments=Assignments.of(load_layout(SMALL_STORE)))
    assert refusal(verifier, weight(1, 1)) is None
    assert refusal(verifier, weight(1, 1, dev="shelf-02", shelf="shelf-01")) is Reason.NOT_ASSIGNED
    assert refusal(verifier, weight(1, 1, lane=9)) is Reason.NOT_ASSIGNED
    assert refusal(verifier, telemetry("shelf-01", "shelf-01", [0, 1, 2, 3])) is None
    assert refusal(verifier, telemetry("shelf-01", "shelf-01", list(range(1024)))) is Reason.NOT_ASSIGNED
    assert refusal(verifier, telemetry("shelf-02", "shelf-01", [0])) is Reason.NOT_ASSIGNED
    assert refusal(verifier, interaction("shelf-01", [0, 1])) is None
    assert refusal(verifier, interaction("shelf-02", [0])) is Reason.NOT_ASSIGNED
    assert refusal(verifier, interaction("shelf-01", [7])) is Reason.NOT_ASSIGNED
    assert refusal(verifier, passage("gate-01")) is None
    assert refusal(verifier, passage("gate-09")) is Reason.NOT_ASSIGNED
    alarm = Alarm(**UNSTAMPED, gate="gate-07", kind="door_forced", t=T0)
    assert refusal(verifier, sent(stamped(alarm, "gate-01", 1, 1, T0))) is Reason.NOT_ASSIGNED


def test_a_message_not_assigned_changes_no_state(core: IngestCore, journal: Journal) -> None:
    core.process([weight(1, 1, dev="shelf-02", shelf="shelf-02")])
    assert reasons(core, weight(1, 2, dev="shelf-02", shelf="shelf-01")) == [Reason.NOT_ASSIGNED]
    assert core.sequencing.high["shelf-02"] == (1, 1)
    assert [(row.dev, row.seq) for row in journal.rows()] == [("shelf-02", 1)]
    assert ("not_assigned", "shelf-02") in {(reason, dev) for reason, dev, *_ in journal.rejects()}


# Parser edges

HEADER = b'"v":1,"dev":"shelf-01","boot":1,"seq":1,"ts":1700000000000,'
WEIGHT_BODY = (
    b'"type":"weight","shelf":"shelf-01","lane":1,"t0":1,"t1":2,"delta_mg":-5,"before_mg":9,"after_mg":4,"noise_mg":1'
)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"{" + HEADER + b'"type":"weight","x":' + b"[" * 20_000 + b"]" * 20_000 + b"}", Reason.TOO_DEEP),
        (b"[" * 20_000 + b"]" * 20_000, Reason.TOO_DEEP),
        (b'{"a":' * 5_000 + b"1" + b"}" * 5_000, Reason.TOO_DEEP),
        (b"{" + HEADER + b'"type":"weight","x":' + b"[" * 12 + b"]" * 12 + b"}", Reason.TOO_DEEP),
        (b"{" + HEADER + WEIGHT_BODY + b',"lane":2}', Reason.DUPLICATE_KEY),
        (b'{"seq":7,' + HEADER + WEIGHT_BODY + b"}", Reason.DUPLICATE_KEY),
        (b"{" + HEADER + b'"type":"health","uptime_s":1,"spool":0,"temp_c10":1,"counters":{"a":1,"a":2}}',
         Reason.DUPLICATE_KEY),
        (b"{" + HEADER + WEIGHT_BODY + b',"lane":"x","lane":2}', Reason.DUPLICATE_KEY),
    ],
)  # fmt: skip
def test_hostile_json_has_a_reason_of_its_own(data: bytes, reason: Reason) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_message(data)
    assert caught.value.reason is reason


def test_brackets_inside_strings_are_not_nesting() -> None:
    data = b"{" + HEADER + b'"type":"qr","req":"r-1","token":"' + b"[" * 40 + b'"}'
    with pytest.raises(ProtocolError) as caught:
        decode_message(data)
    assert caught.value.reason is Reason.INVALID_VALUE  # the token's pattern, not its brackets
    assert decode_message(b"{" + HEADER + WEIGHT_BODY + b"}").type == "weight"


def test_hostile_json_is_counted_under_its_reason_at_the_gateway(core: IngestCore, journal: Journal) -> None:
    deep = b"{" + HEADER + b'"type":"weight","x":' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    twice = b"{" + HEADER + WEIGHT_BODY + b',"lane":2}'
    topic = event_topic(STORE, "shelf-01", "weight")
    batch = [Incoming(topic, seal(KEYS["shelf-01"], data), T0) for data in (deep, twice)]
    assert reasons(core, *batch) == [Reason.TOO_DEEP, Reason.DUPLICATE_KEY]
    assert list(journal.rows()) == []


def test_a_node_refuses_hostile_json_in_a_command_under_its_reason() -> None:
    gateway = SigningKey.generate()
    guard = CommandGuard(STORE, "gate-01", "gateway", gateway.verify_key, (0, 0))
    header = b'"v":1,"dev":"gateway","boot":2,"seq":1,"ts":1700000000000,'
    body = b'"type":"deny","node":"gate-01","req":"r-1","reason":"no_account","ttl_ms":5000'
    topic = cmd_topic(STORE, "gate-01", "deny")
    for data, reason in [
        (b"{" + header + body + b',"x":' + b"[" * 20_000 + b"]" * 20_000 + b"}", Reason.TOO_DEEP),
        (b"{" + header + body + b',"node":"gate-02"}', Reason.DUPLICATE_KEY),
    ]:
        with pytest.raises(ProtocolError) as caught:
            guard.check(topic, seal(gateway, data), False, T0)
        assert caught.value.reason is reason
    assert guard.last == (0, 0)


def test_without_a_layout_a_shelf_node_still_reports_only_the_shelf_named_after_it() -> None:
    verifier = Verifier(registry())
    assert refusal(verifier, weight(1, 1, lane=9)) is None, "no layout: any lane of its own shelf"
    assert refusal(verifier, weight(1, 1, dev="shelf-02", shelf="shelf-01")) is Reason.NOT_ASSIGNED
    assert refusal(verifier, telemetry("shelf-02", "shelf-01", [0])) is Reason.NOT_ASSIGNED
    assert refusal(verifier, interaction("shelf-05", [0])) is None
    assert refusal(verifier, passage("gate-09")) is None


# Found on review: refused genuine messages, upstream's numbering, the answer to a hello


def test_genuine_messages_refused_for_a_reason_of_their_own_leave_no_gap_that_locks_the_rest_out(
    core: IngestCore,
) -> None:
    """A busy lane the layout lacks, or a clock stepped ahead, refuses more than a window of a
    device's messages: the seq bound counts from where they stood, not from the last taken."""
    core.process([weight(1, 1)])
    stray = [weight(1, seq, lane=9) for seq in range(2, 2 + WINDOW + 10)]
    assert set(reasons(core, *stray)) == {Reason.NOT_ASSIGNED}
    ahead = [weight(1, seq, ts=T0 + 10**10) for seq in range(2 + WINDOW + 10, 2 + 2 * WINDOW + 20)]
    assert set(reasons(core, *ahead)) == {Reason.TS_AHEAD}
    assert reasons(core, weight(1, 2 + 2 * WINDOW + 20)) == [None]
    assert reasons(core, weight(1, 3 + 3 * WINDOW + 20)) == [Reason.SEQ_JUMP], "the bound still holds"


def test_upstream_numbers_its_decisions_across_stores_so_its_gaps_are_not_jumps(journal: Journal) -> None:
    upstream = SigningKey.generate()
    verifier = Verifier(registry(), UpstreamSender("upstream", upstream.verify_key))
    core = IngestCore(verifier, journal, WINDOW)

    def decision(seq: int) -> Incoming:
        body = Decision(
            v=1, dev="upstream", boot=1, seq=seq, ts=T0, req=f"r-{seq}", result="match", account="a-1", score_pm=900
        )
        return Incoming(upstream_in_topic(STORE, "decision"), seal(upstream, encode_message(body)), T0 + 50)

    assert reasons(core, decision(5), decision(5 + 10 * WINDOW), decision(5 + 100 * WINDOW)) == [None, None, None]


def test_a_gate_node_reports_only_the_gate_named_after_it() -> None:
    assignments = Assignments(gates=frozenset({"gate-01", "gate-02"}))
    verifier = Verifier(registry(), assignments=assignments)
    assert refusal(verifier, passage("gate-01")) is None
    assert refusal(verifier, passage("gate-02")) is Reason.NOT_ASSIGNED
    named_otherwise = Assignments(gates=frozenset({"entrance"}))
    assert refusal(Verifier(registry(), assignments=named_otherwise), passage("entrance")) is None


def hello(nonce: str, dev: str = "shelf-01") -> Incoming:
    return sent(Hello(v=1, dev=dev, boot=0, seq=0, ts=T0, nonce=nonce), topic=event_topic(STORE, dev, "hello"))


def test_a_hello_is_answered_with_boots_that_start_high_on_a_fresh_journal(core: IngestCore) -> None:
    """A gateway with a fresh journal meets a fleet that has run for years: the answer is the
    newest boot it holds, not 0 (a card swapped then would start at boot 1, refused)."""
    core.process([weight(350, 1)])
    assert [a.last_boot for a in core.process([hello("n")]).asked] == [350]
    assert reachable_boot([]) == 0 and reachable_boot([350, 351, 2**53]) == 351


def test_a_flood_of_hellos_gets_one_answer_per_node_and_batch(core: IngestCore) -> None:
    core.process([weight(3, 1)])
    flood = [hello(f"n-{n}") for n in range(50)] + [hello("c-1", dev="camera-01")]
    answers = core.process(flood).asked
    assert [(a.dev, a.nonce, a.last_boot) for a in answers] == [("shelf-01", "n-49", 3), ("camera-01", "c-1", 0)]


def test_the_marks_are_found_without_reading_the_whole_journal(tmp_path: Path) -> None:
    """A start reads each device's marks down its index: the work grows no faster than the
    journal (one scan of the index for the senders), where a query joining the journal to
    itself grew with its square and took 112 s at 100,000 rows. Counted in SQLite's steps."""

    def steps(rows: int) -> int:
        journal = Journal(tmp_path / f"j{rows}.db", sync="off")
        journal.begin()
        journal.insert_many(
            [
                JournalInsert(seq, "t", f"d-{seq % 4}", 1 + seq // 5_000, seq, seq, "weight", b"x")
                for seq in range(1, rows)
            ]
        )
        journal.commit()
        journal.reset_marks("d-0", T0)
        counted = [0]

        def count() -> int:
            counted[0] += 1
            return 0

        journal._db.set_progress_handler(count, 100)
        marks, boots = journal.high_water_marks(), journal.newest_boots()
        journal._db.set_progress_handler(None, 0)
        assert marks["d-1"] == (1 + (rows - 3) // 5_000, rows - 3) and boots["d-2"] == marks["d-2"][0]
        journal.close()
        return counted[0]

    assert steps(40_000) < 20 * steps(4_000)

"""gateway/ingest.py: IngestCore over a real Journal and a Verifier with generated device keys."""

import copy
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import msgspec
import pytest
from nacl.signing import SigningKey

from edge.protocol.envelope import seal
from edge.protocol.errors import Reason
from edge.protocol.messages import Hello, Presence, State, Weight, encode_message
from edge.protocol.roles import Role
from edge.protocol.topics import event_topic, state_topic
from gateway.ingest import Incoming, IngestCore
from gateway.journal import DeviceRow, Journal
from gateway.registry import Device, Registry
from gateway.sequence import BOOT_STEP
from gateway.verify import Verifier

StateValue = Literal["online", "stopped", "offline"]

STORE = "s1"
T0 = 1_700_000_000_000
WINDOW = 8
KEYS: dict[str, SigningKey] = {"shelf-1": SigningKey.generate(), "cam-1": SigningKey.generate()}


def make_verifier() -> Verifier:
    registry = Registry(STORE)
    registry.add(Device("shelf-1", Role.SHELF, KEYS["shelf-1"].verify_key, "-"))
    registry.add(Device("cam-1", Role.CAMERA, KEYS["cam-1"].verify_key, "-"))
    return Verifier(registry)


def ts_of(boot: int, seq: int) -> int:
    return T0 + boot * 1_000_000 + seq * 100


def weight(boot: int, seq: int, delay_ms: int = 30, dev: str = "shelf-1") -> Incoming:
    ts = ts_of(boot, seq)
    message = Weight(
        v=1,
        dev=dev,
        boot=boot,
        seq=seq,
        ts=ts,
        shelf="shelf-1",
        lane=seq % 4,
        t0=ts - 500,
        t1=ts - 100,
        delta_mg=-1000 * seq,
        before_mg=5_000_000,
        after_mg=5_000_000 - 1000 * seq,
        noise_mg=300,
    )
    return Incoming(event_topic(STORE, dev, "weight"), seal(KEYS[dev], encode_message(message)), ts + delay_ms)


def presence(boot: int, seq: int, delay_ms: int = 30) -> Incoming:
    ts = ts_of(boot, seq)
    message = Presence(v=1, dev="cam-1", boot=boot, seq=seq, ts=ts, people=[(100, 200, 900)])
    return Incoming(
        event_topic(STORE, "cam-1", "presence"), seal(KEYS["cam-1"], encode_message(message)), ts + delay_ms
    )


def state(boot: int, value: StateValue = "online", ts: int | None = None, dev: str = "shelf-1") -> Incoming:
    stamp = ts_of(boot, 0) if ts is None else ts
    message = State(v=1, dev=dev, boot=boot, seq=0, ts=stamp, state=value)
    return Incoming(state_topic(STORE, dev), seal(KEYS[dev], encode_message(message)), stamp + 20)


def journaled(journal: Journal) -> list[tuple[str, int, int, str]]:
    return [(row.dev, row.boot, row.seq, row.type) for row in journal.rows()]


@pytest.fixture
def journal_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "journal.db"


@pytest.fixture
def journal(journal_path: Path) -> Iterator[Journal]:
    opened = Journal(journal_path, sync="normal")
    yield opened
    opened.close()


@pytest.fixture
def core(journal: Journal) -> IngestCore:
    return IngestCore(make_verifier(), journal, WINDOW)


def test_a_batch_of_good_events_is_journaled(core: IngestCore, journal: Journal) -> None:
    batch = [state(1)] + [weight(1, seq) for seq in range(1, 6)] + [presence(1, 1), presence(1, 2)]
    result = core.process(batch)
    assert result.duplicates == 0
    assert result.rejected == []
    assert [v.message.seq for v in result.accepted] == [0, 1, 2, 3, 4, 5, 1, 2]
    assert journaled(journal) == [("shelf-1", 1, 0, "state")] + [("shelf-1", 1, s, "weight") for s in range(1, 6)] + [
        ("cam-1", 1, 1, "presence"),
        ("cam-1", 1, 2, "presence"),
    ]
    rows = list(journal.rows())
    assert [row.payload for row in rows] == [incoming.payload for incoming in batch]
    assert [row.recv_ms for row in rows] == [incoming.recv_ms for incoming in batch]
    assert core.sequencing.high == {"shelf-1": (1, 5), "cam-1": (1, 2)}


def test_redelivery_in_the_same_batch_is_a_duplicate(core: IngestCore, journal: Journal) -> None:
    first, second = weight(1, 1), weight(1, 2)
    result = core.process([first, second, first, second, first])
    assert len(result.accepted) == 2
    assert result.duplicates == 3
    assert result.rejected == []
    assert journaled(journal) == [("shelf-1", 1, 1, "weight"), ("shelf-1", 1, 2, "weight")]


def test_redelivery_in_a_later_batch_is_a_duplicate(core: IngestCore, journal: Journal) -> None:
    batch = [state(1)] + [weight(1, seq) for seq in range(1, 4)]
    core.process(batch)
    again = core.process(batch)
    assert again.accepted == []
    assert again.duplicates == 4
    assert again.rejected == []
    assert len(journaled(journal)) == 4


def test_old_message_the_journal_holds_is_a_duplicate(core: IngestCore, journal: Journal) -> None:
    core.process([weight(1, seq) for seq in range(1, 31)])
    result = core.process([weight(1, 3), weight(1, 10)])
    assert result.duplicates == 2
    assert result.rejected == []
    assert len(journaled(journal)) == 30


def test_old_message_the_journal_lacks_is_a_replay(core: IngestCore, journal: Journal) -> None:
    core.process([weight(1, seq) for seq in range(1, 31) if seq != 4])
    result = core.process([weight(1, 4)])
    assert result.accepted == []
    assert result.duplicates == 0
    assert [(r.dev, r.error.reason) for r in result.rejected] == [("shelf-1", Reason.REPLAY)]
    assert not journal.holds("shelf-1", 1, 4)
    assert [(reason, dev, count) for reason, dev, count, _, _ in journal.rejects()] == [("replay", "shelf-1", 1)]


def test_late_message_inside_the_window_is_accepted(core: IngestCore, journal: Journal) -> None:
    core.process([weight(1, seq) for seq in range(1, 11) if seq != 6])
    result = core.process([weight(1, 6)])
    assert [v.message.seq for v in result.accepted] == [6]
    assert journal.holds("shelf-1", 1, 6)
    assert core.sequencing.high["shelf-1"] == (1, 10)


def test_event_of_an_older_boot_is_a_replay(core: IngestCore, journal: Journal) -> None:
    core.process([weight(1, 1), weight(2, 1)])
    result = core.process([weight(1, 2)])
    assert [r.error.reason for r in result.rejected] == [Reason.REPLAY]
    assert not journal.holds("shelf-1", 1, 2)


def test_state_of_an_older_boot_is_a_replay(core: IngestCore, journal: Journal) -> None:
    core.process([state(1), weight(1, 1), state(2), weight(2, 1)])
    result = core.process([state(1, "offline", ts=ts_of(1, 50))])
    assert [(r.dev, r.error.reason) for r in result.rejected] == [("shelf-1", Reason.REPLAY)]
    assert core.devices["shelf-1"].state == "online"
    assert journal.devices()["shelf-1"].state == "online"
    assert len(list(journal.rows(kind="state"))) == 2


def test_state_of_the_current_boot_is_accepted_after_events(core: IngestCore) -> None:
    core.process([state(1), weight(1, 1), weight(1, 2)])
    result = core.process([state(1, "stopped", ts=ts_of(1, 3))])
    assert len(result.accepted) == 1
    assert core.devices["shelf-1"].state == "stopped"


def test_rejects_are_counted_by_reason_and_device(core: IngestCore, journal: Journal) -> None:
    good = weight(1, 1)
    forged = Incoming(good.topic, bytes(SigningKey.generate().sign(good.payload[64:])), good.recv_ms)
    tampered = bytearray(weight(1, 2).payload)
    tampered[-2] ^= 0x01
    batch = [
        good,
        forged,
        forged,
        Incoming(good.topic, bytes(tampered), 5),
        Incoming(event_topic(STORE, "cam-1", "weight"), weight(1, 3, dev="cam-1").payload, 6),
        Incoming(event_topic(STORE, "ghost", "weight"), good.payload, 7),
        Incoming("store/s1/somewhere", good.payload, 8),
        Incoming(event_topic("s2", "shelf-1", "weight"), good.payload, 9),
    ]
    result = core.process(batch)
    assert len(result.accepted) == 1
    assert [(r.dev, r.error.reason) for r in result.rejected] == [
        ("shelf-1", Reason.BAD_SIGNATURE),
        ("shelf-1", Reason.BAD_SIGNATURE),
        ("shelf-1", Reason.BAD_SIGNATURE),
        ("cam-1", Reason.ROLE_FORBIDDEN),
        ("ghost", Reason.UNKNOWN_DEVICE),
        ("-", Reason.BAD_TOPIC),
        ("shelf-1", Reason.BAD_TOPIC),
    ]
    counted = {(reason, dev): (count, last_ms) for reason, dev, count, last_ms, _ in journal.rejects()}
    assert counted == {
        ("bad_signature", "shelf-1"): (3, 5),
        ("role_forbidden", "cam-1"): (1, 6),
        ("unknown_device", "ghost"): (1, 7),
        ("bad_topic", "-"): (1, 8),
        ("bad_topic", "shelf-1"): (1, 9),
    }
    assert journaled(journal) == [("shelf-1", 1, 1, "weight")]
    assert set(core.devices) == {"shelf-1"}


def test_rejects_change_no_state(core: IngestCore, journal: Journal) -> None:
    core.process([weight(1, seq) for seq in range(1, 21) if seq != 2])
    before = (dict(core.sequencing.high), copy.deepcopy(core.devices), core.clocks["shelf-1"].offset_ms)
    forged = Incoming(weight(1, 50).topic, bytes(SigningKey.generate().sign(weight(1, 50).payload[64:])), 1)
    core.process([weight(1, 2), forged])
    assert (dict(core.sequencing.high), core.devices, core.clocks["shelf-1"].offset_ms) == before
    assert journal.devices() == before[1]


def test_device_rows_track_boot_seq_state_counts_and_offset(core: IngestCore, journal: Journal) -> None:
    core.process([state(1), weight(1, 1, delay_ms=40), weight(1, 2, delay_ms=25), weight(1, 3, delay_ms=90)])
    core.process([weight(1, 2, delay_ms=999), weight(1, 3)])
    row = core.devices["shelf-1"]
    assert row == DeviceRow(
        dev="shelf-1",
        boot=1,
        seq=3,
        last_recv_ms=ts_of(1, 3) + 90,
        state="online",
        offset_ms=20,
        accepted=4,
        duplicates=2,
    )
    assert journal.devices() == {"shelf-1": row}
    assert core.clocks["shelf-1"].offset_ms == 20


def test_late_message_does_not_move_the_device_seq_back(core: IngestCore) -> None:
    core.process([weight(1, 1), weight(1, 5)])
    core.process([weight(1, 3)])
    assert core.devices["shelf-1"].seq == 5
    assert core.devices["shelf-1"].accepted == 3


def test_device_row_follows_a_reboot(core: IngestCore, journal: Journal) -> None:
    core.process([state(1)] + [weight(1, seq) for seq in range(1, 51)])
    core.process([state(2), weight(2, 1), weight(2, 2)])
    row = core.devices["shelf-1"]
    assert (row.boot, row.seq, row.state) == (2, 2, "online")
    assert journal.devices()["shelf-1"] == row


def test_restart_rebuilds_dedupe_state(journal_path: Path) -> None:
    history = [state(1)] + [weight(1, seq) for seq in range(1, 31)] + [presence(1, seq) for seq in range(1, 6)]
    journal = Journal(journal_path)
    core = IngestCore(make_verifier(), journal, WINDOW)
    core.process(history[:20])
    core.process(history[20:])
    high, devices = dict(core.sequencing.high), dict(core.devices)
    journal.close()

    reopened = Journal(journal_path)
    restarted = IngestCore(make_verifier(), reopened, WINDOW)
    assert restarted.sequencing.high == high
    assert restarted.devices == devices
    result = restarted.process(history)
    assert result.accepted == []
    assert result.rejected == []
    assert result.duplicates == len(history)
    assert len(journaled(reopened)) == len(history)
    assert restarted.sequencing.high == high
    assert restarted.devices["shelf-1"].duplicates == 31
    reopened.close()


def test_restart_after_a_reboot_treats_the_whole_journal_as_duplicates(journal_path: Path) -> None:
    history = (
        [state(1)]
        + [weight(1, seq) for seq in range(1, 21)]
        + [state(1, "offline", ts=ts_of(1, 21)), state(2)]
        + [weight(2, seq) for seq in range(1, 6)]
    )
    journal = Journal(journal_path)
    IngestCore(make_verifier(), journal, WINDOW).process(history)
    journal.close()

    reopened = Journal(journal_path)
    restarted = IngestCore(make_verifier(), reopened, WINDOW)
    result = restarted.process(history)
    assert [(r.dev, r.error.reason) for r in result.rejected] == []
    assert result.duplicates == len(history)
    assert len(journaled(reopened)) == len(history)
    assert reopened.rejects() == []
    reopened.close()


def test_restart_accepts_what_follows(journal_path: Path) -> None:
    journal = Journal(journal_path)
    IngestCore(make_verifier(), journal, WINDOW).process([weight(1, seq) for seq in range(1, 21)])
    journal.close()
    reopened = Journal(journal_path)
    restarted = IngestCore(make_verifier(), reopened, WINDOW)
    result = restarted.process([weight(1, 21), weight(1, 2)])
    assert [v.message.seq for v in result.accepted] == [21]
    assert result.duplicates == 1
    assert restarted.devices["shelf-1"].accepted == 21
    reopened.close()


def test_failing_commit_changes_nothing(core: IngestCore, journal: Journal, monkeypatch: pytest.MonkeyPatch) -> None:
    core.process([state(1)] + [weight(1, seq) for seq in range(1, 6)] + [presence(1, 1)])
    high = dict(core.sequencing.high)
    newest = dict(core.sequencing.newest_boot)
    devices = copy.deepcopy(core.devices)
    offsets = {dev: clock.offset_ms for dev, clock in core.clocks.items()}
    rows, rejects, device_table = journaled(journal), journal.rejects(), journal.devices()

    batch = [state(2), weight(2, 1, delay_ms=1), weight(2, 2), presence(1, 2, delay_ms=2), weight(1, 3)]
    batch.append(Incoming(event_topic(STORE, "ghost", "weight"), weight(1, 9).payload, 1))

    def broken_commit(self: Journal) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(Journal, "commit", broken_commit)
    with pytest.raises(OSError, match="disk full"):
        core.process(batch)
    assert core.sequencing.high == high
    assert core.sequencing.newest_boot == newest
    assert core.devices == devices
    assert {dev: clock.offset_ms for dev, clock in core.clocks.items()} == offsets
    assert journaled(journal) == rows
    assert journal.rejects() == rejects
    assert journal.devices() == device_table

    monkeypatch.undo()
    result = core.process(batch)
    assert len(result.accepted) == 4
    assert result.duplicates == 1
    assert core.sequencing.high == {"shelf-1": (2, 2), "cam-1": (1, 2)}
    assert core.clocks["shelf-1"].offset_ms == 1
    assert core.clocks["cam-1"].offset_ms == 2


def test_a_closed_journal_leaves_state_unchanged(core: IngestCore, journal: Journal) -> None:
    core.process([weight(1, 1)])
    high, devices = dict(core.sequencing.high), copy.deepcopy(core.devices)
    journal.close()
    with pytest.raises(sqlite3.ProgrammingError):
        core.process([weight(1, 2)])
    assert core.sequencing.high == high
    assert core.devices == devices


def test_verdicts_do_not_depend_on_batching_events(journal_path: Path, tmp_path: Path) -> None:
    stream = [weight(1, 30), weight(1, 2)]
    split_journal = Journal(tmp_path / "split.db")
    split = IngestCore(make_verifier(), split_journal, WINDOW)
    split_reasons = [r.error.reason for incoming in stream for r in split.process([incoming]).rejected]
    whole_journal = Journal(journal_path)
    whole = IngestCore(make_verifier(), whole_journal, WINDOW)
    whole_reasons = [r.error.reason for r in whole.process(stream).rejected]
    assert split_reasons == [Reason.REPLAY]
    assert whole_reasons == split_reasons
    assert journaled(whole_journal) == journaled(split_journal)
    split_journal.close()
    whole_journal.close()


def test_verdicts_do_not_depend_on_batching_states(core: IngestCore, journal: Journal) -> None:
    result = core.process([state(2, "online"), state(1, "offline")])
    assert [r.error.reason for r in result.rejected] == [Reason.REPLAY]
    assert core.devices["shelf-1"].state == "online"


def test_a_reused_sequence_number_with_other_content_is_refused_not_dropped(core: IngestCore, journal: Journal) -> None:
    core.process([weight(1, seq) for seq in range(1, 21)])
    reused_in_window = weight(1, 18, delay_ms=99)
    reused_in_window = Incoming(
        reused_in_window.topic, seal(KEYS["shelf-1"], encode_message(_other_weight(1, 18))), ts_of(1, 21)
    )
    reused_below_window = Incoming(
        reused_in_window.topic, seal(KEYS["shelf-1"], encode_message(_other_weight(1, 2))), ts_of(1, 22)
    )
    result = core.process([reused_in_window, reused_below_window, weight(1, 18)])
    assert [r.error.reason for r in result.rejected] == [Reason.BOOT_REUSED, Reason.BOOT_REUSED]
    assert result.duplicates == 1, "the byte-identical resend of 1/18 is still just a duplicate"
    assert {(reason, dev) for reason, dev, *_ in journal.rejects()} == {("boot_reused", "shelf-1")}
    assert len(journaled(journal)) == 20


def test_the_same_sequence_number_twice_in_one_batch_with_other_content_is_refused(core: IngestCore) -> None:
    twin = Incoming(weight(1, 3).topic, seal(KEYS["shelf-1"], encode_message(_other_weight(1, 3))), ts_of(1, 4))
    result = core.process([weight(1, 3), twin])
    assert len(result.accepted) == 1
    assert [r.error.reason for r in result.rejected] == [Reason.BOOT_REUSED]


def test_a_will_and_an_online_state_signed_in_the_same_millisecond_are_both_journaled(
    core: IngestCore, journal: Journal
) -> None:
    result = core.process([state(1, "offline", ts=T0), state(1, "online", ts=T0)])
    assert len(result.accepted) == 2 and result.duplicates == 0
    assert core.devices["shelf-1"].state == "online"
    again = core.process([state(1, "offline", ts=T0), state(1, "online", ts=T0)])
    assert again.duplicates == 2 and again.accepted == []


def _other_weight(boot: int, seq: int) -> Weight:
    ts = ts_of(boot, seq) + 7
    return Weight(
        v=1, dev="shelf-1", boot=boot, seq=seq, ts=ts, shelf="shelf-1", lane=1, t0=ts - 1, t1=ts,
        delta_mg=-1, before_mg=2, after_mg=1, noise_mg=0,
    )  # fmt: skip


def test_forwarded_types_are_queued_for_upstream_in_the_same_commit_once(journal: Journal) -> None:
    core = IngestCore(make_verifier(), journal, WINDOW, forward=frozenset({"presence"}))
    first = presence(1, 1)
    result = core.process([weight(1, 1), first, presence(1, 2)])
    assert [(o.topic, o.payload) for o in result.outbox] == [
        ("store/s1/upstream/out/presence", first.payload),
        ("store/s1/upstream/out/presence", presence(1, 2).payload),
    ]
    assert [o.id for o in journal.outbox()] == [o.id for o in result.outbox]
    assert core.process([first]).outbox == []  # a redelivered duplicate is not forwarded twice
    journal.delivered(result.outbox[0].id)
    assert [o.payload for o in journal.outbox()] == [presence(1, 2).payload]


def test_a_failed_commit_queues_nothing(journal: Journal) -> None:
    core = IngestCore(make_verifier(), journal, WINDOW, forward=frozenset({"presence"}))
    original = journal.commit

    def failing() -> None:
        raise sqlite3.OperationalError("disk I/O error")

    journal.commit = failing  # type: ignore[method-assign]
    with pytest.raises(sqlite3.OperationalError):
        core.process([presence(1, 1)])
    journal.commit = original  # type: ignore[method-assign]
    assert journal.outbox() == []


def hello(nonce: str, seq: int = 0, dev: str = "shelf-1") -> Incoming:
    message = Hello(v=1, dev=dev, boot=0, seq=seq, ts=T0, nonce=nonce)
    return Incoming(event_topic(STORE, dev, "hello"), seal(KEYS[dev], encode_message(message)), T0 + 20)


def test_a_hello_is_answered_with_the_newest_boot_and_never_journaled(core: IngestCore, journal: Journal) -> None:
    first = core.process([hello("n-1")])
    assert [(a.dev, a.nonce, a.last_boot) for a in first.asked] == [("shelf-1", "n-1", 0)]
    core.process([state(3), weight(3, 1)])
    assert [(a.nonce, a.last_boot) for a in core.process([hello("n-2")]).asked] == [("n-2", 3)]
    # The state and event earlier in the same batch count too: the boot they carry is taken.
    # One answer per node and batch, to its last hello.
    later = core.process([hello("n-2"), state(4), weight(4, 1), hello("n-3"), hello("n-1", dev="cam-1")])
    assert [(a.dev, a.nonce, a.last_boot) for a in later.asked] == [("shelf-1", "n-3", 4), ("cam-1", "n-1", 0)]
    assert [row[3] for row in journaled(journal)] == ["state", "weight", "state", "weight"]
    assert later.duplicates == 0 and later.rejected == [] and len(later.accepted) == 2
    again = core.process([hello("n-2"), weight(4, 1)])  # a hello redelivered beside a duplicate event
    assert [a.last_boot for a in again.asked] == [4] and again.duplicates == 1


def test_the_answer_counts_boots_from_before_a_reset_of_the_marks(core: IngestCore, journal: Journal) -> None:
    core.process([state(7), weight(7, 1)])
    # An operator's reset leaves no marks (storegw devices --reset), but the journal keeps
    # (7, 1) and its unique index with it: boot 7 must never be taken again.
    journal.reset_marks("shelf-1", T0)
    core.reload_marks()
    assert "shelf-1" not in core.sequencing.newest_boot
    assert [a.last_boot for a in core.process([hello("n")]).asked] == [7]


def test_the_answer_leaves_out_a_boot_no_start_could_have_reached(core: IngestCore, journal: Journal) -> None:
    """A journal from before the bounds may hold a boot of 2^53 (taken while the device had no
    marks): answering with it would leave the node no boot to take, locked out for good."""
    poisoned = msgspec.structs.replace(_other_weight(1, 1), boot=2**53)
    assert core.process(
        [Incoming(weight(1, 1).topic, seal(KEYS["shelf-1"], encode_message(poisoned)), ts_of(1, 2))]
    ).accepted
    journal.reset_marks("shelf-1", T0)
    core.reload_marks()
    assert len(core.process([state(1), weight(1, 1)]).accepted) == 2
    assert journal.boots_of("shelf-1") == {1, 2**53}
    assert [a.last_boot for a in core.process([hello("n")]).asked] == [1]
    core.process([weight(1 + BOOT_STEP, 1)])
    assert [a.last_boot for a in core.process([hello("m")]).asked] == [1 + BOOT_STEP]


def test_a_hello_is_verified_like_any_event(core: IngestCore, journal: Journal) -> None:
    forged = hello("n")
    forged = Incoming(forged.topic, seal(SigningKey.generate(), forged.payload[64:]), forged.recv_ms)
    result = core.process([forged, hello("n", seq=5)])
    assert result.asked == []
    assert [r.error.reason for r in result.rejected] == [Reason.BAD_SIGNATURE, Reason.HEADER_MISMATCH]
    assert journaled(journal) == []

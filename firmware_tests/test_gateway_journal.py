"""gateway/journal.py: the SQLite (WAL) journal, its dedupe indexes, rejects, devices and replay lines."""

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
from nacl.signing import SigningKey

from edge.protocol.envelope import seal
from edge.protocol.messages import Health, State, encode_message
from edge.protocol.topics import event_topic, state_topic
from gateway.journal import DeviceRow, Journal, JournalRow, replay_line

StateValue = Literal["online", "stopped", "offline"]

KEY = SigningKey.generate()


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    opened = Journal(tmp_path / "state" / "journal.db")
    yield opened
    opened.close()


def health_payload(dev: str, boot: int, seq: int, ts: int = 1_700_000_000_000) -> bytes:
    message = Health(v=1, dev=dev, boot=boot, seq=seq, ts=ts, uptime_s=seq, spool=0, temp_c10=412, counters={"x": -1})
    return seal(KEY, encode_message(message))


def state_payload(dev: str, boot: int, ts: int, value: StateValue = "online") -> bytes:
    return seal(KEY, encode_message(State(v=1, dev=dev, boot=boot, seq=0, ts=ts, state=value)))


def put_event(journal: Journal, dev: str, boot: int, seq: int, recv_ms: int = 1_000, kind: str = "health") -> bool:
    return journal.insert(
        recv_ms,
        event_topic("s1", dev, kind),
        dev,
        boot,
        seq,
        1_700_000_000_000 + seq,
        kind,
        health_payload(dev, boot, seq),
    )


def put_state(journal: Journal, dev: str, boot: int, ts: int, recv_ms: int = 1_000) -> bool:
    return journal.insert(recv_ms, state_topic("s1", dev), dev, boot, 0, ts, "state", state_payload(dev, boot, ts))


def test_creates_parent_directory_and_uses_wal(tmp_path: Path, journal: Journal) -> None:
    path = tmp_path / "state" / "journal.db"
    assert path.exists()
    with sqlite3.connect(path) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_insert_and_duplicate_event(journal: Journal) -> None:
    journal.begin()
    assert put_event(journal, "d1", 1, 1)
    assert not put_event(journal, "d1", 1, 1, recv_ms=2_000)
    assert put_event(journal, "d1", 1, 2)
    assert put_event(journal, "d1", 2, 1)
    assert put_event(journal, "d2", 1, 1)
    journal.commit()
    rows = list(journal.rows())
    assert [(r.dev, r.boot, r.seq) for r in rows] == [("d1", 1, 1), ("d1", 1, 2), ("d1", 2, 1), ("d2", 1, 1)]
    assert rows[0].recv_ms == 1_000


def test_duplicate_by_dev_boot_seq_even_with_another_payload(journal: Journal) -> None:
    assert put_event(journal, "d1", 1, 7)
    assert not journal.insert(5, event_topic("s1", "d1", "weight"), "d1", 1, 7, 1, "weight", b"x" * 80)
    assert [row.type for row in journal.rows()] == ["health"]


def test_state_duplicate_by_dev_boot_ts(journal: Journal) -> None:
    assert put_state(journal, "d1", 1, 5_000)
    assert not put_state(journal, "d1", 1, 5_000, recv_ms=9_999)
    assert put_state(journal, "d1", 1, 5_001)
    assert put_state(journal, "d1", 2, 5_000)
    assert put_state(journal, "d2", 1, 5_000)
    assert len(list(journal.rows(kind="state"))) == 4


def test_states_and_events_do_not_collide(journal: Journal) -> None:
    assert put_state(journal, "d1", 1, 1_700_000_000_001)
    assert journal.insert(
        1, event_topic("s1", "d1", "health"), "d1", 1, 1, 1_700_000_000_001, "health", health_payload("d1", 1, 1)
    )


def test_holds(journal: Journal) -> None:
    put_event(journal, "d1", 2, 9)
    assert journal.holds("d1", 2, 9)
    assert not journal.holds("d1", 2, 8)
    assert not journal.holds("d1", 1, 9)
    assert not journal.holds("d2", 2, 9)


def test_rollback_discards_inserts(journal: Journal) -> None:
    journal.begin()
    put_event(journal, "d1", 1, 1)
    journal.rollback()
    assert list(journal.rows()) == []
    assert not journal.holds("d1", 1, 1)


def test_count_reject_upserts(journal: Journal) -> None:
    journal.count_reject("bad_signature", "d1", 100, "first")
    journal.count_reject("bad_signature", "d1", 200, "second")
    journal.count_reject("bad_signature", "d2", 150, "other dev")
    journal.count_reject("replay", "d1", 300, "y" * 500)
    assert journal.rejects() == [
        ("bad_signature", "d1", 2, 200, "second"),
        ("bad_signature", "d2", 1, 150, "other dev"),
        ("replay", "d1", 1, 300, "y" * 200),
    ]


def test_devices_save_and_load(tmp_path: Path, journal: Journal) -> None:
    first = DeviceRow("d1", 3, 40, 123_456, "online", -12, 40, 2)
    second = DeviceRow("d2", 1, 0, 7, None, None, 1, 0)
    journal.save_device(first)
    journal.save_device(second)
    assert journal.devices() == {"d1": first, "d2": second}
    updated = DeviceRow("d1", 4, 1, 200_000, "offline", 5, 41, 2)
    journal.save_device(updated)
    assert journal.devices()["d1"] == updated
    journal.close()
    reopened = Journal(tmp_path / "state" / "journal.db")
    assert reopened.devices() == {"d1": updated, "d2": second}
    reopened.close()


def test_empty_journal(journal: Journal) -> None:
    assert journal.high_water_marks() == {}
    assert journal.newest_boots() == {}
    assert journal.devices() == {}
    assert journal.rejects() == []
    assert list(journal.rows()) == []


def test_high_water_marks_take_the_newest_boot(journal: Journal) -> None:
    for seq in range(1, 51):
        put_event(journal, "d1", 1, seq)
    for seq in (1, 2, 3):
        put_event(journal, "d1", 2, seq)
    for seq in (1, 5, 2):
        put_event(journal, "d2", 7, seq)
    put_state(journal, "d1", 9, 1)
    put_state(journal, "d3", 4, 1)
    assert journal.high_water_marks() == {"d1": (2, 3), "d2": (7, 5)}


def test_newest_boots_include_states(journal: Journal) -> None:
    put_event(journal, "d1", 2, 1)
    put_state(journal, "d1", 3, 10)
    put_state(journal, "d2", 4, 10)
    put_event(journal, "d3", 1, 1)
    put_event(journal, "d3", 5, 1)
    put_event(journal, "d3", 2, 1)
    assert journal.newest_boots() == {"d1": 3, "d2": 4, "d3": 5}


def test_counts(journal: Journal) -> None:
    put_event(journal, "d1", 1, 1)
    put_event(journal, "d1", 1, 2)
    put_state(journal, "d1", 1, 5)
    put_event(journal, "d2", 1, 1)
    assert journal.counts() == [("d1", "health", 2), ("d1", "state", 1), ("d2", "health", 1)]


def test_rows_filters_and_order(journal: Journal) -> None:
    put_event(journal, "d2", 1, 1, recv_ms=10)
    put_event(journal, "d1", 1, 1, recv_ms=11)
    put_state(journal, "d1", 1, 500, recv_ms=12)
    put_event(journal, "d1", 1, 2, recv_ms=13)
    put_event(journal, "d2", 1, 2, recv_ms=14)
    everything = list(journal.rows())
    assert [r.recv_ms for r in everything] == [10, 11, 12, 13, 14]
    assert [r.id for r in everything] == sorted(r.id for r in everything)
    assert [r.recv_ms for r in journal.rows(dev="d1")] == [11, 12, 13]
    assert [r.recv_ms for r in journal.rows(kind="state")] == [12]
    assert [r.recv_ms for r in journal.rows(dev="d1", kind="health")] == [11, 13]
    assert [r.recv_ms for r in journal.rows(after_id=everything[1].id)] == [12, 13, 14]
    assert [r.recv_ms for r in journal.rows(limit=2)] == [10, 11]
    assert [r.recv_ms for r in journal.rows(dev="d2", after_id=everything[0].id, limit=5)] == [14]
    assert list(journal.rows(dev="nobody")) == []


def test_row_keeps_the_exact_payload(journal: Journal) -> None:
    payload = health_payload("d1", 1, 1)
    journal.insert(42, event_topic("s1", "d1", "health"), "d1", 1, 1, 1_700_000_000_001, "health", payload)
    (row,) = journal.rows()
    assert isinstance(row.payload, bytes)
    assert row.payload == payload
    assert row.message == payload[64:]
    assert row.topic == "store/s1/node/d1/event/health"
    assert (row.dev, row.boot, row.seq, row.ts, row.type) == ("d1", 1, 1, 1_700_000_000_001, "health")


def test_next_boot_increments_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    journal = Journal(path, sync="normal")
    assert journal.next_boot() == 1
    assert journal.next_boot() == 2
    journal.close()
    reopened = Journal(path)
    assert reopened.next_boot() == 3
    reopened.close()


def test_data_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    journal = Journal(path)
    journal.begin()
    put_event(journal, "d1", 1, 1)
    journal.commit()
    journal.close()
    reopened = Journal(path)
    assert reopened.holds("d1", 1, 1)
    assert not put_event(reopened, "d1", 1, 1)
    reopened.close()


def test_replay_line_is_exact(journal: Journal) -> None:
    payload = health_payload("d1", 3, 4)
    topic = event_topic("s1", "d1", "health")
    journal.insert(1_700_000_000_999, topic, "d1", 3, 4, 1, "health", payload)
    (row,) = journal.rows()
    line = replay_line(row)
    message = payload[64:]
    assert line == b'{"topic":"store/s1/node/d1/event/health","msg":' + message + b',"recv_ms":1700000000999}'
    parsed = json.loads(line)
    assert list(parsed) == ["topic", "msg", "recv_ms"]
    assert parsed["topic"] == topic
    assert parsed["recv_ms"] == 1_700_000_000_999
    assert parsed["msg"] == json.loads(message)
    assert parsed["msg"]["counters"] == {"x": -1}


def test_replay_line_escapes_the_topic() -> None:
    row = JournalRow(1, 5, 'odd"topic\\', "d", 1, 1, 1, "health", b"\0" * 64 + b'{"a":1}')
    assert json.loads(replay_line(row)) == {"topic": 'odd"topic\\', "msg": {"a": 1}, "recv_ms": 5}

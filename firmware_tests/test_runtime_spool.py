"""The on-disk spool: ordered, durable across reopen, ids never reused, corrupt files quarantined."""

import random
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from edge.runtime.spool import Spool, SpooledMessage


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    opened = Spool(tmp_path / "spool.db", sync="normal")
    yield opened
    opened.close()


def test_empty_spool(spool: Spool) -> None:
    assert spool.depth() == 0
    assert spool.after(0, 100) == []
    assert spool.quarantined is None


def test_append_returns_increasing_ids(spool: Spool) -> None:
    ids = [spool.append(f"t/{i}", bytes([i])) for i in range(10)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 10
    assert spool.depth() == 10


def test_after_returns_rows_in_id_order(spool: Spool) -> None:
    ids = [spool.append(f"store/s/node/n/event/e{i}", f"payload-{i}".encode()) for i in range(5)]
    rows = spool.after(0, 100)
    assert rows == [SpooledMessage(i, f"store/s/node/n/event/e{n}", f"payload-{n}".encode()) for n, i in enumerate(ids)]
    assert all(isinstance(row.payload, bytes) for row in rows)


def test_after_honours_cursor_and_limit(spool: Spool) -> None:
    ids = [spool.append("t", bytes([i])) for i in range(10)]
    assert [row.id for row in spool.after(0, 3)] == ids[:3]
    assert [row.id for row in spool.after(ids[2], 3)] == ids[3:6]
    assert [row.id for row in spool.after(ids[8], 100)] == ids[9:]
    assert spool.after(ids[-1], 100) == []


def test_binary_payload_survives_exactly(spool: Spool) -> None:
    payload = bytes(range(256)) * 4 + b"\x00"
    row_id = spool.append("t", payload)
    assert spool.after(row_id - 1, 1) == [SpooledMessage(row_id, "t", payload)]


def test_delete(spool: Spool) -> None:
    ids = [spool.append("t", bytes([i])) for i in range(6)]
    spool.delete([ids[0], ids[2], ids[4]])
    assert [row.id for row in spool.after(0, 100)] == [ids[1], ids[3], ids[5]]
    assert spool.depth() == 3
    spool.delete([])
    assert spool.depth() == 3
    spool.delete([ids[0], 10_000])
    assert spool.depth() == 3


def test_ids_keep_increasing_after_every_row_is_deleted(spool: Spool) -> None:
    ids = [spool.append("t", b"x") for _ in range(5)]
    spool.delete(ids)
    assert spool.depth() == 0
    fresh = spool.append("t", b"y")
    assert fresh > max(ids)


def test_ids_keep_increasing_after_reopen_of_an_emptied_spool(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    first = Spool(path, sync="normal")
    ids = [first.append("t", b"x") for _ in range(5)]
    first.delete(ids)
    first.close()
    second = Spool(path, sync="normal")
    try:
        assert second.append("t", b"y") > max(ids)
    finally:
        second.close()


def test_data_survives_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    first = Spool(path)
    ids = [first.append(f"t/{i}", f"m{i}".encode()) for i in range(4)]
    first.delete([ids[1]])
    first.close()
    second = Spool(path)
    try:
        assert second.quarantined is None
        assert second.depth() == 3
        assert second.after(0, 10) == [
            SpooledMessage(ids[0], "t/0", b"m0"),
            SpooledMessage(ids[2], "t/2", b"m2"),
            SpooledMessage(ids[3], "t/3", b"m3"),
        ]
    finally:
        second.close()


def test_parent_directory_is_created(tmp_path: Path) -> None:
    opened = Spool(tmp_path / "a" / "b" / "spool.db", sync="normal")
    try:
        opened.append("t", b"x")
        assert (tmp_path / "a" / "b" / "spool.db").exists()
    finally:
        opened.close()


def test_random_bytes_are_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    garbage = random.Random(1234).randbytes(8192)
    path.write_bytes(garbage)
    opened = Spool(path, sync="normal")
    try:
        assert opened.quarantined is not None
        assert opened.quarantined.parent == tmp_path
        assert opened.quarantined.name.startswith("spool.db.corrupt-")
        assert opened.quarantined.read_bytes() == garbage
        assert opened.depth() == 0
        assert opened.after(0, 10) == []
        row = opened.append("t", b"after")
        assert opened.after(0, 10) == [SpooledMessage(row, "t", b"after")]
    finally:
        opened.close()
    reopened = Spool(path, sync="normal")
    try:
        assert reopened.quarantined is None
        assert reopened.depth() == 1
    finally:
        reopened.close()


def test_corrupt_page_in_a_real_spool_is_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    first = Spool(path, sync="normal")
    for i in range(300):
        first.append("t", random.Random(i).randbytes(200))
    first.close()
    data = bytearray(path.read_bytes())
    assert len(data) > 3 * 4096
    data[2 * 4096 : 3 * 4096] = b"\x55" * 4096
    path.write_bytes(bytes(data))
    opened = Spool(path, sync="normal")
    try:
        assert opened.quarantined is not None
        assert opened.quarantined.read_bytes() == bytes(data)
        assert opened.depth() == 0
    finally:
        opened.close()


def test_two_threads_appending_get_distinct_ids(spool: Spool) -> None:
    start = threading.Barrier(2)

    def produce(name: str) -> list[int]:
        start.wait(timeout=10)
        return [spool.append(f"t/{name}", f"{name}{i}".encode()) for i in range(500)]

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(produce, name) for name in ("a", "b")}
        results = {name: future.result(timeout=30) for name, future in futures.items()}
    every = results["a"] + results["b"]
    assert len(every) == 1000
    assert len(set(every)) == 1000
    assert results["a"] == sorted(results["a"]) and results["b"] == sorted(results["b"])
    assert spool.depth() == 1000
    rows = spool.after(0, 2000)
    assert [row.id for row in rows] == sorted(every)
    by_id = {row.id: row.payload for row in rows}
    assert [by_id[i] for i in results["a"]] == [f"a{i}".encode() for i in range(500)]
    assert [by_id[i] for i in results["b"]] == [f"b{i}".encode() for i in range(500)]


def test_reader_and_deleter_alongside_a_producer(spool: Spool) -> None:
    def produce() -> list[int]:
        return [spool.append("t", str(i).encode()) for i in range(300)]

    sent: list[int] = []
    cursor = 0
    with ThreadPoolExecutor(max_workers=1) as pool:
        producer = pool.submit(produce)
        while not producer.done() or spool.after(cursor, 1):
            rows = spool.after(cursor, 50)
            if rows:
                cursor = rows[-1].id
                sent.extend(row.id for row in rows)
                spool.delete([row.id for row in rows])
        produced = producer.result(timeout=30)
    assert sent == produced
    assert spool.depth() == 0

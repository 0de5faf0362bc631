"""Boot state: the boot counter and the newest obeyed command, persisted atomically across restarts."""

import json
from pathlib import Path

import pytest

from edge.runtime.bootstate import BootState, BootStateError, BootStateFile


def test_missing_file_is_boot_zero(tmp_path: Path) -> None:
    state = BootStateFile(tmp_path / "boot.json").read()
    assert state == BootState(0, 0, 0)
    assert not (tmp_path / "boot.json").exists()


def test_next_boot_increments_and_persists(tmp_path: Path) -> None:
    path = tmp_path / "state" / "boot.json"
    assert BootStateFile(path).next_boot().boot == 1
    assert BootStateFile(path).read().boot == 1
    assert BootStateFile(path).next_boot().boot == 2
    assert BootStateFile(path).next_boot().boot == 3
    assert BootStateFile(path).read() == BootState(3, 0, 0)
    assert json.loads(path.read_text())["boot"] == 3


def test_next_boot_on_the_same_object_increments(tmp_path: Path) -> None:
    file = BootStateFile(tmp_path / "boot.json")
    assert [file.next_boot().boot for _ in range(5)] == [1, 2, 3, 4, 5]


def test_next_boot_keeps_the_last_command(tmp_path: Path) -> None:
    path = tmp_path / "boot.json"
    BootStateFile(path).write(BootState(4, 9, 17))
    started = BootStateFile(path).next_boot()
    assert started == BootState(5, 9, 17)
    assert BootStateFile(path).read() == BootState(5, 9, 17)


def test_next_boot_passes_the_newest_the_gateway_journaled(tmp_path: Path) -> None:
    file = BootStateFile(tmp_path / "boot.json")
    assert not file.exists()
    assert file.next_boot(7).boot == 8, "a new card: one past the gateway's"
    file.write(BootState(3, 9, 17))
    assert file.next_boot(7) == BootState(8, 9, 17), "a restored image: one past the gateway's, commands kept"
    assert file.next_boot(2).boot == 9, "the card ahead of the gateway: one past its own"


def test_write_read_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "boot.json"
    BootStateFile(path).write(BootState(2**40, 3, 2**33))
    assert BootStateFile(path).read() == BootState(2**40, 3, 2**33)


def test_older_file_without_command_fields_reads(tmp_path: Path) -> None:
    path = tmp_path / "boot.json"
    path.write_text('{"boot": 7}')
    assert BootStateFile(path).read() == BootState(7, 0, 0)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage",
        "{",
        "[1, 2]",
        '"boot"',
        "null",
        '{"boot": "seven"}',
        '{"boot": null}',
        '{"command_seq": 1}',
        '{"boot": 1, "command_boot": []}',
    ],
    ids=["empty", "text", "truncated", "list", "string", "null", "str-boot", "null-boot", "no-boot", "list-field"],
)
def test_garbage_raises_boot_state_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "boot.json"
    path.write_text(text)
    with pytest.raises(BootStateError) as caught:
        BootStateFile(path).read()
    assert str(path) in str(caught.value)
    with pytest.raises(BootStateError):
        BootStateFile(path).next_boot()
    assert path.read_text() == text


def test_binary_garbage_raises_boot_state_error(tmp_path: Path) -> None:
    path = tmp_path / "boot.json"
    path.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(BootStateError):
        BootStateFile(path).read()


def test_directory_raises_boot_state_error(tmp_path: Path) -> None:
    path = tmp_path / "boot.json"
    path.mkdir()
    with pytest.raises(BootStateError):
        BootStateFile(path).read()


def test_write_is_atomic_and_leaves_no_tmp(tmp_path: Path) -> None:
    path = tmp_path / "boot.json"
    file = BootStateFile(path)
    for _ in range(3):
        file.next_boot()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["boot.json"]
    assert not path.with_name("boot.json.tmp").exists()


def test_stale_tmp_from_a_crash_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "boot.json"
    BootStateFile(path).write(BootState(5, 0, 0))
    path.with_name("boot.json.tmp").write_text("half a wri")
    assert BootStateFile(path).read().boot == 5
    assert BootStateFile(path).next_boot().boot == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["boot.json"]


def test_write_replaces_the_file_rather_than_rewriting_it(tmp_path: Path) -> None:
    path = tmp_path / "boot.json"
    file = BootStateFile(path)
    file.write(BootState(1, 0, 0))
    before = path.stat().st_ino
    file.write(BootState(2, 0, 0))
    assert path.stat().st_ino != before
    assert file.read().boot == 2

"""storediag as a technician runs it: one-shot commands with their exit statuses, service
mode asked for and left again, a port where nothing answers, a missing port, the live
readout, and the interactive shell driven in tmux with its history."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge.protocol.roles import Role
from firmware_tests.conftest import REPO, ConsoleNode, Store, storediag, wait_until
from hw.sim.null_modem import NullModem


@pytest.fixture
def shelf(make_store, bench_board) -> ConsoleNode:  # type: ignore[no-untyped-def]
    store: Store = make_store([("shelf-01", Role.SHELF)])
    board, _ = bench_board
    return store.start_with_console("shelf-01", f'backend = "mcu"\nport = "{board.link}"')


def test_a_one_shot_command_prints_a_readable_answer(shelf: ConsoleNode) -> None:
    done = shelf.storediag("status")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["node", "shelf-01"]
    assert any(line.split()[:2] == ["counter", "count"] for line in lines), "counters as a table"


def test_a_change_asks_for_service_mode_and_leaves_it(shelf: ConsoleNode) -> None:
    refused = shelf.storediag("tare", "1")
    assert refused.returncode == 2 and "STOREDIAG_PIN" in refused.stderr
    wrong = shelf.storediag("tare", "1", pin="00000000")
    assert wrong.returncode == 1 and "wrong_pin" in wrong.stderr
    done = shelf.storediag("tare", "1", pin=shelf.pin)
    assert done.returncode == 0, done.stderr
    assert "zeroed" in done.stdout
    assert shelf.storediag("service").stdout.split() == ["service", "off"], "a one-shot leaves service mode"


def test_a_refusal_exits_1_with_the_reason(shelf: ConsoleNode) -> None:
    done = shelf.storediag("calibrate", "9", "500", pin=shelf.pin)
    assert done.returncode == 1 and "bad_args" in done.stderr and "no lane '9'" in done.stderr


def test_nothing_answering_is_a_clear_error(tmp_path: Path) -> None:
    modem = NullModem(tmp_path / "nobody", tmp_path / "laptop").plug()
    try:
        started = time.monotonic()
        done = storediag(modem.b.link, "--timeout", "0.5", "status")
        assert done.returncode == 3
        assert "nothing answered" in done.stderr and "TX to the adapter's RX" in done.stderr
        assert time.monotonic() - started < 15
    finally:
        modem.close()


def test_a_missing_port_says_what_to_check(tmp_path: Path) -> None:
    done = storediag(tmp_path / "ttyUSB9", "status")
    assert done.returncode == 2 and "is the adapter plugged in" in done.stderr


def test_watch_redraws_the_reading(shelf: ConsoleNode) -> None:
    done = shelf.storediag("watch", "--count", "3", "--every", "0.2", "read")
    assert done.returncode == 0, done.stderr
    blocks = [block for block in done.stdout.split("\n\n") if block.strip()]
    assert len(blocks) == 3
    for block in blocks:
        header, table_head, _, *rows = block.splitlines()
        assert "read" in header and "every 0.2 s" in header
        assert table_head.split()[:2] == ["lane", "raw"] and len(rows) == 4


def test_the_shell_in_a_terminal_keeps_history_but_never_the_pin(shelf: ConsoleNode, tmp_path: Path) -> None:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed; `make test` installs it (apt-get install tmux)")
    state = tmp_path / "state"
    session = f"storediag-{os.getpid()}"
    command = f"{sys.executable} -m edge.diag.cli --port {shelf.laptop}"
    env = {"XDG_STATE_HOME": str(state), "STOREDIAG_PIN": ""}
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40", "-c", str(REPO),
         *[arg for key, value in env.items() for arg in ("-e", f"{key}={value}")], command],
        check=True,
    )  # fmt: skip
    try:
        screen = lambda: _capture(session)  # noqa: E731
        wait_until(lambda: screen().rstrip().endswith(".laptop>"), 20, "the shell's prompt")
        _keys(session, "key")
        wait_until(lambda: "SHA256:" in screen(), 10, "the key's fingerprint")
        _keys(session, "tare 1")
        wait_until(lambda: "needs_service" in screen(), 10, "tare refused outside service mode")
        _keys(session, "service")
        wait_until(lambda: "service PIN:" in screen(), 10, "the PIN prompt")
        _keys(session, shelf.pin)
        wait_until(lambda: "service mode on" in screen(), 10, "service mode on")
        assert shelf.pin not in screen(), "the PIN was echoed"
        _keys(session, "tare 1")
        wait_until(lambda: "zeroed" in screen(), 10, "the tare")
        _keys(session, f"service {shelf.pin}")  # typed on the line: must leave the history
        wait_until(lambda: screen().count("service mode on") == 2, 10, "service mode again")
        _keys(session, "watch")
        wait_until(lambda: "Ctrl-C stops" in screen(), 10, "the live readout")
        subprocess.run(["tmux", "send-keys", "-t", session, "C-c"], check=True)
        wait_until(lambda: screen().rstrip().endswith(".laptop>"), 10, "the prompt after Ctrl-C")
        subprocess.run(["tmux", "send-keys", "-t", session, "C-d"], check=True)
        history = state / "storediag" / "history"
        wait_until(history.exists, 10, "the history written on leaving")
        kept = history.read_text()
        assert "key" in kept and "tare 1" in kept and "watch" in kept
        assert shelf.pin not in kept
        wait_until(lambda: b"service mode left" in shelf.log(), 10, "service mode left with the shell")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False, capture_output=True)


def _capture(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-J", "-t", session], capture_output=True, text=True).stdout


def _keys(session: str, text: str) -> None:
    subprocess.run(["tmux", "send-keys", "-t", session, "-l", text], check=True)
    subprocess.run(["tmux", "send-keys", "-t", session, "Enter"], check=True)


def test_reboot_restarts_the_node_as_its_next_boot(shelf: ConsoleNode) -> None:
    done = shelf.storediag("reboot", pin=shelf.pin)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[2].split() == ["next_boot", "2"]
    wait_until(lambda: shelf.log().count(b"console on") == 2, 30, "the console after the restart")
    status = shelf.storediag("status")
    assert status.returncode == 0 and status.stdout.splitlines()[4].split() == ["boot", "2"]
    assert shelf.process.poll() is None, "the same process carries on"

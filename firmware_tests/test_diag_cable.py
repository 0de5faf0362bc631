"""The technician's cable: storediag's USB adapter pulled and plugged back in during the shell
or a live readout, a node whose console falls silent (a cable pulled from its header UART
says nothing else), and how long storediag really tried before it says nothing answered."""

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from edge.diag import shell as shell_module
from edge.diag.shell import Shell
from edge.diag.target import Connection
from edge.protocol.diag import MAX_REPLY, parse_reply
from edge.protocol.lines import LineBuffer
from edge.protocol.roles import Role
from edge.runtime import console as console_module
from edge.runtime.console import DiagConsole, PinFailures
from edge.runtime.diag import ConsoleSession, DiagCommands
from edge.runtime.service_mode import SILENCE_MS, ServiceMode
from firmware_tests.conftest import REPO, ConsoleNode, Store, storediag, wait_until
from hw.sim.null_modem import NullModem

PIN = "27182818"


@pytest.fixture
def shelf(make_store, bench_board) -> ConsoleNode:  # type: ignore[no-untyped-def]
    store: Store = make_store([("shelf-01", Role.SHELF)])
    board, _ = bench_board
    return store.start_with_console("shelf-01", f'backend = "mcu"\nport = "{board.link}"')


def test_nothing_answering_says_how_often_and_how_long_it_asked(tmp_path: Path) -> None:
    modem = NullModem(tmp_path / "nobody", tmp_path / "laptop").plug()
    try:
        started = time.monotonic()
        done = storediag(modem.b.link, "--timeout", "0.5", "status")
        took = time.monotonic() - started
    finally:
        modem.close()
    assert done.returncode == 3
    said = re.search(r"nothing answered on \S+ in 3 tries over ([0-9.]+) s \(0\.5 s of silence each\)", done.stderr)
    assert said is not None, done.stderr
    assert 1.5 <= float(said.group(1)) <= took


def test_watch_waits_for_a_pulled_adapter_and_goes_on_when_it_is_back(shelf: ConsoleNode, tmp_path: Path) -> None:
    out = tmp_path / "watch.out"
    command = [sys.executable, "-m", "edge.diag.cli", "--port", str(shelf.laptop), "watch", "--every", "0.2", "read"]
    with open(out, "wb") as sink:
        watching = subprocess.Popen(command, cwd=REPO, stdout=sink, stderr=subprocess.PIPE)
    try:
        readings = lambda: len(re.findall(r"^lane +raw", out.read_text(), re.MULTILINE))  # noqa: E731
        wait_until(lambda: readings() >= 2, 20, "the first readings")
        shelf.modem.pull(shelf.modem.b)
        wait_until(lambda: "waiting for it to come back" in out.read_text(), 20, "watch saying the port is gone")
        gone = readings()
        shelf.modem.push(shelf.modem.b)
        wait_until(lambda: readings() >= gone + 2, 20, "readings again on the port plugged back in")
        watching.send_signal(signal.SIGINT)
        _, errors = watching.communicate(timeout=20)
    finally:
        if watching.poll() is None:
            watching.kill()
            watching.wait()
    assert watching.returncode == 0 and b"Traceback" not in errors, errors.decode()


def test_the_shell_waits_for_a_pulled_adapter_and_goes_on_when_it_is_back(shelf: ConsoleNode, tmp_path: Path) -> None:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed; `make test` installs it (apt-get install tmux)")
    session = f"storediag-cable-{os.getpid()}"
    command = f"{sys.executable} -m edge.diag.cli --port {shelf.laptop}"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "50", "-c", str(REPO),
         "-e", f"XDG_STATE_HOME={tmp_path}", command],
        check=True,
    )  # fmt: skip
    try:
        screen = lambda: _capture(session)  # noqa: E731
        wait_until(lambda: screen().rstrip().endswith(".laptop>"), 20, "the shell's prompt")
        _keys(session, f"service {shelf.pin}")
        wait_until(lambda: "service mode on" in screen(), 10, "service mode on")
        shelf.modem.pull(shelf.modem.b)
        _keys(session, "key")
        wait_until(lambda: "waiting for it to come back" in screen(), 20, "the shell saying the port is gone")
        shelf.modem.push(shelf.modem.b)
        wait_until(lambda: "is back" in screen(), 20, "the shell back on the port")
        service_on = lambda: re.search(r"^service +on *$", screen(), re.MULTILINE) is not None  # noqa: E731
        wait_until(service_on, 10, "service mode kept across a short pull")
        wait_until(lambda: screen().rstrip().endswith(".laptop>"), 10, "the prompt again")
        _keys(session, "key")
        wait_until(lambda: "SHA256:" in screen(), 10, "an answer on the port plugged back in")
        assert "Traceback" not in screen()
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False, capture_output=True)


def _capture(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-J", "-t", session], capture_output=True, text=True).stdout


def _keys(session: str, text: str) -> None:
    subprocess.run(["tmux", "send-keys", "-t", session, "-l", text], check=True)
    subprocess.run(["tmux", "send-keys", "-t", session, "Enter"], check=True)


class VirtualClock:
    """The console's clock, moved by the test; counts its reads, so a test knows the
    console has looked at it since."""

    def __init__(self) -> None:
        self.now_ms = 1_000_000
        self.reads = 0
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            self.reads += 1
            return self.now_ms


@pytest.fixture
def console(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[DiagConsole, Connection, VirtualClock]]:
    """A console alone on one end of a cable, on a virtual clock; storediag's end on the other."""
    clock = VirtualClock()
    monkeypatch.setattr(console_module, "monotonic_ms", clock)
    modem = NullModem(tmp_path / "node", tmp_path / "laptop").plug()
    session = ConsoleSession(DiagCommands(), ServiceMode(lambda pin: pin == PIN))
    node = DiagConsole(str(modem.a.link), 115200, session, PinFailures(tmp_path / "console.json"), Counter())
    node.start()
    link = Connection(str(modem.b.link), 115200, 5.0)
    try:
        yield node, link, clock
    finally:
        node.stop()
        modem.close()


def test_a_silent_console_leaves_service_mode_and_a_bare_newline_keeps_it(
    console: tuple[DiagConsole, Connection, VirtualClock],
) -> None:
    node, link, clock = console
    link.ask(["service", PIN])
    assert node.in_service()
    clock.now_ms += SILENCE_MS - 1_000
    looked = clock.reads
    link.keepalive()  # what storediag's shell sends while the technician types nothing
    wait_until(lambda: clock.reads > looked + 1, 10, "the console hearing the newline")
    clock.now_ms += SILENCE_MS - 1_000
    assert node.in_service(), "the newline was heard"
    clock.now_ms += 1_000
    assert not node.in_service(), "a minute of silence: the cable was pulled"
    assert link.ask(["service"]) == [{"service": "off"}], "and it stays off when something is heard again"


def test_line_noise_does_not_keep_service_mode_on(console: tuple[DiagConsole, Connection, VirtualClock]) -> None:
    """A floating RX pin ends a line of noise every 128 bytes or so: the node must not take
    those lines for a technician still on the cable, or a shelf holds back its weights."""
    node, link, clock = console
    link.ask(["service", PIN])
    entered = clock.now_ms
    rng = random.Random(3)
    with serial.Serial(link.path, 115200, timeout=0.05) as wire:
        replies = LineBuffer(MAX_REPLY)
        for _ in range(4):  # the last one at the end of the minute, where the first three could keep it on
            clock.now_ms += SILENCE_MS // 4
            wire.write(bytes(rng.randrange(0x80, 0x100) for _ in range(40)) + b"\r")  # never a request
            refused = lambda: any(  # noqa: E731
                (reply := parse_reply(line)) is not None and reply.code == "bad_line"
                for line in replies.feed(wire.read(4096))
            )
            wait_until(refused, 10, "the noise line refused")
    assert clock.now_ms == entered + SILENCE_MS
    assert not node.in_service(), "a minute of nothing but noise: the cable was pulled"


class QuietNode:
    """storediag's end of a cable to a node that grants service mode; counts keepalives."""

    kind = "node"

    def __init__(self) -> None:
        self.keepalives = 0

    def ask(self, words: list[str]) -> list[dict[str, object]]:
        return []

    def keepalive(self) -> None:
        self.keepalives += 1


def test_the_shell_keeps_service_mode_alive_while_nothing_is_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert 2 * shell_module.KEEPALIVE_S < SILENCE_MS / 1000, "one may be lost and the next still comes in time"
    monkeypatch.setattr(shell_module, "KEEPALIVE_S", 0.01)
    monkeypatch.setattr(shell_module, "HISTORY", tmp_path / "history")
    monkeypatch.setattr(shell_module.getpass, "getpass", lambda prompt: PIN)
    node = QuietNode()
    shell = Shell(node, "port")  # type: ignore[arg-type]
    shell.preloop()
    try:
        shell.onecmd("service")
        wait_until(lambda: node.keepalives >= 3, 10, "keepalives while nothing is typed")
    finally:
        shell.postloop()

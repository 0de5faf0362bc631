"""edge/runtime/systemd.py, and the node's watchdog pings, against a real notify socket."""

import itertools
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from edge.protocol.roles import Role
from edge.runtime.config import load_node_config
from edge.runtime.node import Node
from edge.runtime.systemd import ServiceManager
from firmware_tests.conftest import NotifySocket, Store, no_gateway_wait, wait_until


@pytest.fixture
def notify(tmp_path: Path) -> NotifySocket:
    socket = NotifySocket(tmp_path / "notify.sock")
    yield socket  # type: ignore[misc]
    socket.close()


def test_outside_systemd_nothing_is_sent() -> None:
    manager = ServiceManager({})
    assert not manager.present and manager.watchdog_s is None
    manager.ready("x")
    manager.watchdog()


def test_ready_watchdog_and_stopping_reach_the_socket(notify: NotifySocket) -> None:
    manager = ServiceManager({"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "2000000"})
    assert manager.watchdog_s == 2.0
    manager.ready("shelf node s1")
    manager.watchdog()
    manager.stopping()
    wait_until(lambda: len(notify.received) == 3, 30, "three notifications")
    assert notify.received == ["READY=1\nSTATUS=shelf node s1", "WATCHDOG=1", "STOPPING=1"]


def test_a_watchdog_meant_for_another_process_is_ignored() -> None:
    other = str(os.getpid() + 1)
    assert ServiceManager({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "1000", "WATCHDOG_PID": other}).watchdog_s is None
    assert ServiceManager({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "soon"}).watchdog_s is None


def test_an_abstract_socket_is_addressed_as_systemd_names_it() -> None:
    assert ServiceManager({"NOTIFY_SOCKET": "@/org/freedesktop/systemd1/notify"}).present


def test_a_missing_socket_is_logged_not_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ServiceManager({"NOTIFY_SOCKET": str(tmp_path / "gone")}).watchdog()
    assert "cannot reach the service manager" in caplog.text


def test_the_node_pings_while_its_app_turns_and_falls_silent_when_it_hangs(
    make_store: object, notify: NotifySocket, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    store: Store = make_store([("shelf-01", Role.SHELF)])  # type: ignore[operator]
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify.path))
    monkeypatch.setenv("WATCHDOG_USEC", "600000")
    no_gateway_wait(store.node_config("shelf-01"))
    config, base = load_node_config(store.node_config("shelf-01"))
    node = Node(config, base)
    node.start()
    hung = threading.Event()

    def app() -> None:
        while not hung.is_set():
            node.beat()
            time.sleep(0.05)

    def withheld() -> int:
        """The watchdog's turns that found the last beat too old, and sent no ping."""
        return caplog.text.count("no watchdog ping")

    marks = itertools.count()

    def sent_so_far() -> list[str]:
        """All the node has sent the socket until now, however slow the socket's reader: a
        marker sent now comes out after it, as a datagram socket keeps its queue in order."""
        mark = f"MARK={next(marks)}"
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
            sender.sendto(mark.encode(), str(notify.path))
        wait_until(lambda: mark in notify.received, 30, "a marker through the notify socket")
        return notify.received[: notify.received.index(mark)]

    turning = threading.Thread(target=app, daemon=True)
    turning.start()
    try:
        wait_until(lambda: notify.received.count("WATCHDOG=1") >= 3, 30, "pings while the app turns")
        hung.set()
        turning.join(30)
        # Two turns after the app's last beat: the second began after the first had found
        # that beat too old, so it, and every turn after it, saw the last beat there will be.
        hung_at = withheld() + 2
        wait_until(lambda: withheld() >= hung_at, 30, "the watchdog to find the app hung")
        pinged = sent_so_far().count("WATCHDOG=1")
        wait_until(lambda: withheld() >= hung_at + 3, 30, "three more turns of the watchdog")
        assert sent_so_far().count("WATCHDOG=1") == pinged, "no ping since the app hung"
    finally:
        node.stop(drain_s=0)
    wait_until(lambda: notify.received[-1:] == ["STOPPING=1"], 30, "STOPPING last")

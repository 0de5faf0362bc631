"""Issue 20, item 1: nothing a device sends can stop ingest. What the gateway derives from a
message (dashboard topics, discovery, fusion) is bounded and isolated; a failure there is
counted and alerted, and journaling and acknowledgements go on (DESIGN section 5)."""

import json
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey

from edge.protocol.clock import wall_ms
from edge.protocol.envelope import seal
from edge.protocol.keys import load_signing_key
from edge.protocol.messages import AnyMessage, Telemetry, Weight, encode_message
from edge.protocol.roles import Role
from edge.protocol.topics import event_topic
from firmware_tests.conftest import Store, wait_until
from firmware_tests.mqtt_client import TestClient
from firmware_tests.test_gateway_live_fusion import LAYOUT, journal_all, world_messages
from gateway.config import OperatorConfig
from gateway.journal import Journal
from gateway.layout import SMALL_STORE
from gateway.live_fusion import LiveFusion
from gateway.operator.view import MAX_LANES, MAX_RETAINED_BYTES, OperatorView, Summary
from gateway.provisioning.broker_config import MAX_PACKET_BYTES
from gateway.provisioning.site import DASHBOARD
from gateway.service import fits_broker
from gateway.worker import guarded, view_report
from hw.sim.commit_watch import CommitWatch
from hw.sim.hostile import signed_fuzz
from hw.sim.world.suites import build_world

GATEWAY = "store/test/gateway"


def test_a_message_the_engine_fails_on_costs_only_what_it_would_have_made_also_in_the_replay(tmp_path: Path) -> None:
    """Before: the error left the journal process, the gateway exited, and the replay on its
    next start met the same message: it never started again."""
    messages = world_messages(build_world(LAYOUT, "single", 3, seed=3))
    poison = messages[len(messages) // 3][0]
    journal = Journal(tmp_path / "journal.db")
    journal_all(journal, messages)
    live = LiveFusion(LAYOUT, journal, "gateway", 1, SigningKey.generate())
    apply = live.engine.apply

    def failing(message: AnyMessage, recv_ms: int) -> list[Any]:
        if message == poison:
            raise RuntimeError("a bug the message found")
        return apply(message, recv_ms)

    live.engine.apply = failing  # type: ignore[method-assign]
    errors: list[AnyMessage] = []
    seen: list[AnyMessage] = []
    live.on_error = lambda message, recv_ms, error: errors.append(message)
    live.observe = lambda message, recv_ms, outputs: seen.append(message)
    queued = live.catch_up(0)
    assert errors == [poison]
    assert seen == [message for message, _ in messages], "the view still sees every message"
    assert len(queued) == 3, "the other messages' receipts are made"


def test_the_view_failing_is_counted_and_alerted_and_the_next_message_goes_on() -> None:
    view = OperatorView("test", {"shelf-01": "shelf"}, None, None, OperatorConfig(), 0)
    observe = guarded(view)
    good = Weight(
        v=1, dev="shelf-01", boot=1, seq=2, ts=5, shelf="shelf-01", lane=1, t0=0, t1=5,
        delta_mg=-1, before_mg=2, after_mg=1, noise_mg=0,
    )  # fmt: skip
    bad = Telemetry(v=1, dev="shelf-01", boot=1, seq=1, ts=5, shelf="shelf-01", lanes=[(0, 1)])
    real = view.observe

    def failing(message: AnyMessage, recv_ms: int, outputs: Any = ()) -> None:
        if message is bad:
            raise KeyError("a bug the message found")
        real(message, recv_ms, outputs)

    view.observe = failing  # type: ignore[method-assign]
    observe(bad, 10, [])
    observe(good, 11, [])
    report = view_report(view, 12, Summary(0, 0, 0, 0), "gateway")
    assert [(a.kind, a.reason, a.dev) for a in report.alerts] == [("derived_failed", "view_error", "shelf-01")]
    assert json.loads(report.retained[f"{GATEWAY}/shelves/shelf-01"])["lanes"][0]["weight_mg"] == 1
    assert report.summary.derived_failed == {"view_error": 1}

    view.take = lambda now_ms: 1 / 0  # type: ignore[assignment,method-assign,return-value]
    failed = view_report(view, 13, report.summary, "gateway")
    assert failed.retained == {} and failed.summary.devices_total == report.summary.devices_total
    assert [(a.kind, a.reason) for a in failed.alerts] == [("derived_failed", "view_error")]
    assert failed.summary.derived_failed == {"view_error": 2}


class Device:
    """A device's own credential and key, publishing what the test makes it."""

    def __init__(self, store: Store, node: str) -> None:
        node_dir = store.site.node_dir(node)
        self.node = node
        self.key = load_signing_key(node_dir / "device.key")
        self.client = TestClient.as_file_user(store.port, node, node_dir / "mqtt.pass", node)
        assert self.client.refused is None

    def send(self, message: AnyMessage, wait: bool = True) -> None:
        self.client.publish(
            event_topic("test", self.node, message.type), seal(self.key, encode_message(message)), wait=wait
        )


def watch(store: Store) -> TestClient:
    client = TestClient.as_file_user(store.port, DASHBOARD, store.site.dashboard_password, "watcher")
    for topic in (f"{GATEWAY}/#", "homeassistant/#"):
        client.subscribe(topic)
    return client


def alerts(client: TestClient) -> list[dict[str, Any]]:
    return [json.loads(m.payload) for m in list(client.messages) if m.topic == f"{GATEWAY}/alerts"]


def disconnects(store: Store) -> int:
    return (store.root / "gateway.log").read_bytes().count(b"disconnected from broker")


def test_a_telemetry_of_1024_lanes_leaves_the_gateway_connected_journaling_and_acknowledging(make_store) -> None:  # type: ignore[no-untyped-def]
    """Issue 20: the gateway built a 699 KB discovery message, the broker dropped it on every
    connect, and a restart rebuilt the same view from the journal."""
    store: Store = make_store([("shelf-01", Role.SHELF)])
    store.start_gateway()
    watcher = watch(store)
    shelf = Device(store, "shelf-01")
    now = wall_ms()
    lanes = [(lane, 1_000_000) for lane in range(1024)]
    shelf.send(Telemetry(v=1, dev="shelf-01", boot=1, seq=1, ts=now, shelf="shelf-01", lanes=lanes))
    for seq in range(2, 12):
        weight = Weight(
            v=1, dev="shelf-01", boot=1, seq=seq, ts=now, shelf="shelf-01", lane=seq % 4, t0=now - 500, t1=now,
            delta_mg=-1_000, before_mg=1_000_000, after_mg=999_000, noise_mg=500,
        )  # fmt: skip
        shelf.send(weight)
    wait_until(lambda: len(store.journaled("shelf-01")) == 10, 20, "the weights after it journaled")
    assert store.journaled("shelf-01", "telemetry") == [(1, 1)]
    wait_until(lambda: any(a["kind"] == "derived_failed" for a in alerts(watcher)), 20, "the derived_failed alert")
    [alert] = [a for a in alerts(watcher) if a["kind"] == "derived_failed"]
    assert (alert["reason"], alert["dev"], alert["count"]) == ("lanes_dropped", "shelf-01", 1024 - MAX_LANES)

    def shown() -> list[dict[str, Any]]:
        found = [m for m in list(watcher.messages) if m.topic == f"{GATEWAY}/shelves/shelf-01"]
        return json.loads(found[-1].payload)["lanes"] if found else []

    wait_until(lambda: len(shown()) == MAX_LANES, 20, "the shelf shown with its lanes bounded")
    wait_until(
        lambda: any(
            json.loads(m.payload).get("derived_failed") == {"lanes_dropped": 1024 - MAX_LANES}
            for m in list(watcher.messages) if m.topic == f"{GATEWAY}/state"
        ), 20, "the count in the gateway's state",
    )  # fmt: skip
    assert disconnects(store) == 0
    watcher.close()  # start_gateway's probe logs in as the dashboard account too
    # everything was acknowledged: a restart (the view rebuilt from the same journal) gets
    # nothing redelivered, and stays connected too
    store.gateway.send_signal(15)  # type: ignore[union-attr]
    assert store.gateway.wait(20) == 0  # type: ignore[union-attr]
    store.start_gateway()
    # a redelivery would come before anything the shelf sends now (one client's messages
    # arrive in order): once this marker is journaled, any redelivery has been counted
    marker = Weight(
        v=1, dev="shelf-01", boot=1, seq=12, ts=now, shelf="shelf-01", lane=0, t0=now - 500, t1=now,
        delta_mg=-1_000, before_mg=1_000_000, after_mg=999_000, noise_mg=500,
    )  # fmt: skip
    shelf.send(marker)
    wait_until(lambda: (1, 12) in store.journaled("shelf-01"), 20, "the marker sent after the restart journaled")
    assert store.query("SELECT duplicates FROM devices WHERE dev='shelf-01'") == [(0,)]
    assert disconnects(store) == 0
    shelf.client.close()


def with_layout(store: Store) -> None:
    """The small store's layout (store renamed): not_assigned applies and the fusion engine runs."""
    text = SMALL_STORE.read_text().replace('store = "demo"', 'store = "test"', 1)
    assert 'store = "test"' in text
    (store.site.root / "layout.toml").write_text(text)
    config = store.site.gateway_config
    config.write_text('layout = "layout.toml"\n' + config.read_text())


@pytest.fixture
def fuzz_seed() -> Iterator[int]:
    """A fresh seed each run, printed; FUZZ_SEED=... replays one."""
    seed = int(os.environ.get("FUZZ_SEED") or random.SystemRandom().randrange(2**32))
    print(f"fuzz seed {seed}")
    yield seed


@pytest.mark.parametrize("layout", [True, False], ids=["layout", "no-layout"])
def test_thousands_of_hostile_messages_from_valid_devices_do_not_hold_back_an_honest_one(  # type: ignore[no-untyped-def]
    make_store, fuzz_seed, layout: bool
) -> None:
    """One device of each role sends random schema-valid bodies signed with their real keys
    while an honest shelf streams 200 events/s through the node runtime: the honest shelf's
    events are all journaled, once each, and none waits more than a second to be committed.
    With a layout, not_assigned refuses much and fusion runs; without, a shelf node's own
    shelf takes any lane, and the view's bounds alone hold."""
    hostile = [("shelf-01", Role.SHELF), ("camera-01", Role.CAMERA), ("gate-01", Role.GATE)]
    store: Store = make_store([*hostile, ("shelf-02", Role.SHELF)])
    if layout:
        with_layout(store)
    store.start_gateway()
    rng = random.Random(fuzz_seed)
    shelves = ["shelf-01", "shelf-02", "shelf-03"]
    corpus = []
    for node, role in hostile:
        key = load_signing_key(store.site.node_dir(node) / "device.key")
        corpus.append((node, signed_fuzz(rng, "test", node, role, key, shelves, 1_000, wall_ms())))
    watch_commits = CommitWatch(store.journal_path, "shelf-02")
    honest_events = 3_000
    honest = store.start_node("shelf-02", honest_events, 200)
    senders = {node: TestClient.as_file_user(store.port, node, store.site.node_dir(node) / "mqtt.pass", node)
               for node, _ in hostile}  # fmt: skip
    wait_until(lambda: len(store.journaled("shelf-02")) > 100, 30, "the honest shelf streaming")
    for n in range(1_000):  # interleaved, about 300 a second in all, over the honest stream
        for node, messages in corpus:
            topic, payload = messages[n]
            senders[node].publish(topic, payload, wait=False)
        time.sleep(0.01)
    for sender in senders.values():
        sender.close()
    assert honest.wait(60) == 0
    wait_until(lambda: len(watch_commits.seen) == honest_events, 30, "every honest event journaled")
    watch_commits.close()
    journaled = store.journaled("shelf-02")
    assert len(journaled) == len(set(journaled)) == honest_events, "an honest event lost or doubled"
    held = watch_commits.held_ms()
    assert held[-1] <= 1_000, f"an honest event waited {held[-1]} ms to be committed (p50 {held[len(held) // 2]})"
    assert watch_commits.max_gap_ms() <= 1_000, "the honest shelf was held back"
    assert disconnects(store) == 0
    assert store.gateway is not None and store.gateway.poll() is None


def test_the_service_never_hands_the_broker_a_packet_over_its_limit() -> None:
    """The last guard behind the view's own bound: Mosquitto disconnects a client for one."""
    topic = "homeassistant/device/test-shelf-shelf-01/config"
    assert fits_broker(topic, b"x" * MAX_RETAINED_BYTES)
    assert not fits_broker(topic, b"x" * (MAX_PACKET_BYTES - len(topic)))

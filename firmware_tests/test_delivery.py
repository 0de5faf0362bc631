"""Nothing lost, nothing twice: real node and gateway processes over a real Mosquitto."""

import signal
import threading
import time

import msgspec

from edge.protocol.envelope import seal
from edge.protocol.keys import load_signing_key
from edge.protocol.messages import encode_message
from edge.protocol.roles import Role
from edge.protocol.topics import event_topic
from firmware_tests.conftest import Store, assert_exactly_once_in_order, no_gateway_wait, wait_until
from firmware_tests.mqtt_client import TestClient
from hw.sim.traffic import synthetic_event


def test_ten_thousand_events_are_each_journaled_exactly_once(make_store) -> None:  # type: ignore[no-untyped-def]
    store: Store = make_store([("shelf-01", Role.SHELF)])
    store.start_gateway()
    node = store.start_node("shelf-01", 10_000, 0)
    assert node.wait(120) == 0
    wait_until(lambda: len(store.journaled("shelf-01")) >= 10_000, 60, "10,000 journaled events")
    assert_exactly_once_in_order(store, "shelf-01", 10_000)


def test_gateway_killed_mid_stream_loses_and_repeats_nothing(make_store) -> None:  # type: ignore[no-untyped-def]
    store: Store = make_store([("shelf-01", Role.SHELF)])
    store.start_gateway()
    node = store.start_node("shelf-01", 6_000, 1_500)
    wait_until(lambda: len(store.journaled("shelf-01")) > 500, 30, "the stream to be under way")
    store.kill_gateway()
    during_outage = len(store.journaled("shelf-01"))
    wait_until(lambda: store.spooled("shelf-01") > 1_000, 20, "events held in the spool while the gateway is offline")
    store.start_gateway()
    assert node.wait(120) == 0
    wait_until(lambda: len(store.journaled("shelf-01")) >= 6_000, 60, "all 6,000 events after the restart")
    assert during_outage < 6_000, "the gateway was killed after the stream had ended"
    assert_exactly_once_in_order(store, "shelf-01", 6_000)


def test_broker_stopped_for_ten_seconds_while_node_produces(make_store) -> None:  # type: ignore[no-untyped-def]
    store: Store = make_store([("shelf-01", Role.SHELF), ("camera-01", Role.CAMERA)])
    store.start_gateway()
    shelf = store.start_node("shelf-01", 3_000, 150)
    camera = store.start_node("camera-01", 3_000, 150)
    wait_until(lambda: len(store.journaled("shelf-01")) > 200, 30, "the stream to be under way")
    store.broker.stop(signal.SIGTERM)
    time.sleep(10)  # ten seconds without a broker, and as long after as the node takes to spool 1,000 events
    wait_until(lambda: store.spooled("shelf-01") > 1_000, 60, "the node producing into its spool during the outage")
    store.broker.start()
    assert shelf.wait(120) == 0 and camera.wait(120) == 0
    wait_until(
        lambda: len(store.journaled("shelf-01")) >= 3_000 and len(store.journaled("camera-01", "presence")) >= 3_000,
        60,
        "every event after the broker came back",
    )
    assert_exactly_once_in_order(store, "shelf-01", 3_000)
    assert_exactly_once_in_order(store, "camera-01", 3_000, "presence")


def test_node_killed_with_unsent_spool_resends_it_after_restart(make_store) -> None:  # type: ignore[no-untyped-def]
    store: Store = make_store([("shelf-01", Role.SHELF)])
    store.broker.stop()
    no_gateway_wait(store.node_config("shelf-01"))  # a node that has run before: it makes events with no gateway
    node = store.start_node("shelf-01", 400, 0, "--linger")
    wait_until(lambda: store.spooled("shelf-01") == 400, 30, "400 events in the unsent spool")
    node.send_signal(signal.SIGKILL)
    node.wait(10)
    assert store.spooled("shelf-01") == 400
    store.broker.start()
    store.start_gateway()
    restarted = store.start_node("shelf-01", 0, 0)
    assert restarted.wait(60) == 0
    wait_until(lambda: len(store.journaled("shelf-01")) >= 400, 30, "the resent spool")
    assert_exactly_once_in_order(store, "shelf-01", 400)
    assert store.spooled("shelf-01") == 0
    states = store.query("SELECT boot FROM journal WHERE dev='shelf-01' AND type='state'")
    assert {boot for (boot,) in states} == {2}, "the restarted node must announce itself with a new boot"


def test_events_wait_for_the_gateways_first_session_on_a_fresh_broker(make_store) -> None:  # type: ignore[no-untyped-def]
    store: Store = make_store([("shelf-01", Role.SHELF)])
    no_gateway_wait(store.node_config("shelf-01"))  # a node that has run before: it makes events with no gateway
    node = store.start_node("shelf-01", 50, 0, "--linger")
    wait_until(lambda: store.spooled("shelf-01") == 50, 20, "50 events held while no gateway session exists")
    time.sleep(1)
    assert store.spooled("shelf-01") == 50
    store.start_gateway()
    wait_until(lambda: len(store.journaled("shelf-01")) >= 50, 20, "the held events once the gateway connected")
    assert_exactly_once_in_order(store, "shelf-01", 50)
    node.send_signal(signal.SIGTERM)
    assert node.wait(10) == 0


def test_gateway_killed_with_messages_in_flight_gets_them_redelivered_once(make_store) -> None:  # type: ignore[no-untyped-def]
    """A publisher that does not hold (unlike nodes) keeps the broker's queue and the gateway's
    in-flight window full, so the kill lands between journaling and acknowledging."""
    store: Store = make_store([("shelf-01", Role.SHELF)])
    store.start_gateway()
    node_dir = store.site.node_dir("shelf-01")
    key = load_signing_key(node_dir / "device.key")
    topic = event_topic("test", "shelf-01", "weight")
    payloads = [
        seal(key, encode_message(msgspec.structs.replace(synthetic_event(Role.SHELF, "shelf-01", n, 1_790_000_000_000),
                                                         dev="shelf-01", boot=1, seq=n, ts=1_790_000_000_000 + n)))
        for n in range(1, 8_001)
    ]  # fmt: skip
    publisher = TestClient.as_file_user(store.port, "shelf-01", node_dir / "mqtt.pass", "shelf-01")
    sender = threading.Thread(target=lambda: [publisher.publish(topic, p, wait=False) for p in payloads])
    sender.start()
    wait_until(lambda: len(store.journaled("shelf-01")) > 1_000, 30, "the stream under way")
    store.kill_gateway()
    sender.join(60)
    publisher.close()
    store.start_gateway()
    wait_until(lambda: len(store.journaled("shelf-01")) >= 8_000, 60, "all 8,000 events after the restart")
    assert_exactly_once_in_order(store, "shelf-01", 8_000)


def test_node_killed_while_connected_resends_what_was_not_acknowledged(make_store) -> None:  # type: ignore[no-untyped-def]
    store: Store = make_store([("shelf-01", Role.SHELF)])
    store.start_gateway()
    node = store.start_node("shelf-01", 20_000, 2_500, "--linger")  # 8 s of stream: the kill lands mid-way
    wait_until(lambda: len(store.journaled("shelf-01")) > 1_000, 30, "the stream under way")
    node.send_signal(signal.SIGKILL)
    node.wait(10)
    assert store.spooled("shelf-01") > 0, "the node was killed after its spool had drained"
    restarted = store.start_node("shelf-01", 0, 0)
    assert restarted.wait(60) == 0
    # how many it made before the kill is not known: none missing up to the last is the check
    assert_exactly_once_in_order(store, "shelf-01", len(store.journaled("shelf-01")))

"""The node runtime against a real broker and gateway: availability, health, command intake."""

import signal
import threading
import time
from pathlib import Path

import msgspec
import pytest

from edge.protocol.clock import wall_ms
from edge.protocol.keys import load_signing_key
from edge.protocol.messages import UNSTAMPED, Deny, Hello, Open
from edge.protocol.roles import Role
from edge.protocol.topics import gateway_state_topic
from edge.runtime.commands import Command
from edge.runtime.config import BootConfig, load_node_config
from edge.runtime.node import Node
from firmware_tests.conftest import Store, no_gateway_wait, wait_until
from firmware_tests.mqtt_client import TestClient
from gateway.commands import CommandSigner
from gateway.config import load_gateway_config
from gateway.service import Gateway
from hw.sim.broker import free_port
from hw.sim.site import build_site
from hw.sim.traffic import synthetic_event


def states(store: Store, dev: str) -> list[tuple[int, str]]:
    rows = store.query("SELECT boot, payload FROM journal WHERE dev=? AND type='state' ORDER BY id", dev)
    return [(int(boot), bytes(payload).split(b'"state":"')[1].split(b'"')[0].decode()) for boot, payload in rows]  # type: ignore[call-overload]


def with_health_interval(config: Path, seconds: int) -> None:
    config.write_text(config.read_text() + f"\n[health]\ninterval_s = {seconds}\n")


def test_availability_online_stopped_and_offline_by_last_will(make_store) -> None:  # type: ignore[no-untyped-def]
    store: Store = make_store([("shelf-01", Role.SHELF)])
    store.start_gateway()
    clean = store.start_node("shelf-01", 5, 0, "--linger")
    wait_until(lambda: states(store, "shelf-01") == [(1, "online")], 10, "online")
    clean.send_signal(signal.SIGTERM)
    assert clean.wait(10) == 0
    wait_until(lambda: states(store, "shelf-01")[-1:] == [(1, "stopped")], 10, "stopped")
    crashed = store.start_node("shelf-01", 5, 0, "--linger")
    wait_until(lambda: states(store, "shelf-01")[-1:] == [(2, "online")], 10, "online again")
    crashed.send_signal(signal.SIGKILL)
    crashed.wait(10)
    wait_until(lambda: states(store, "shelf-01")[-1:] == [(2, "offline")], 30, "offline from the last will")
    assert store.query("SELECT state, boot FROM devices WHERE dev='shelf-01'") == [("offline", 2)]


def test_health_reports_uptime_and_spool_periodically(make_store) -> None:  # type: ignore[no-untyped-def]
    store: Store = make_store([("shelf-01", Role.SHELF)])
    with_health_interval(store.node_config("shelf-01"), 1)
    store.start_gateway()
    store.start_node("shelf-01", 0, 0, "--linger")
    wait_until(lambda: len(store.journaled("shelf-01", "health")) >= 2, 15, "two health events")
    payloads = [bytes(p) for (p,) in store.query("SELECT payload FROM journal WHERE type='health' ORDER BY id")]  # type: ignore[misc]
    assert all(b'"uptime_s":' in p and b'"spool":' in p and b'"temp_c10":' in p for p in payloads)


def test_gateway_commands_reach_the_node_and_bad_ones_do_not(make_store) -> None:  # type: ignore[no-untyped-def]
    store: Store = make_store([("gate-01", Role.GATE)])
    gateway_config, gateway_base = load_gateway_config(store.site.gateway_config)
    gateway = Gateway(gateway_config, gateway_base)
    node_config, node_base = load_node_config(store.node_config("gate-01"))
    node = Node(node_config, node_base)
    obeyed: list[Command] = []
    arrived = threading.Event()

    def handle(command: Command) -> None:
        obeyed.append(command)
        arrived.set()

    node.on_command("open", handle)
    gateway.start()
    gateway_running = True
    node.start()
    try:
        wait_until(lambda: node.link.connected, 10, "the node to connect")
        wait_until(lambda: states(store, "gate-01") == [(1, "online")], 10, "the node's online state journaled")
        gateway.send_command("gate-01", Open(**UNSTAMPED, node="gate-01", req="req-1", session="sess-1", ttl_ms=5_000))
        assert arrived.wait(10)
        assert [(c.req, c.session, c.dev) for c in obeyed] == [("req-1", "sess-1", "gateway")]

        topic, stale = gateway.commands.sign(
            "gate-01", Open(**UNSTAMPED, node="gate-01", req="req-2", session="s", ttl_ms=1), 1_000
        )
        _, fresh = gateway.commands.sign(
            "gate-01", Open(**UNSTAMPED, node="gate-01", req="req-3", session="s", ttl_ms=60_000), node._clock()
        )
        # The broker ties a session to its credential, so the spy (a copy of the gateway's
        # credential, as an attacker with it would hold) can connect only once the gateway has gone.
        gateway.stop()
        gateway_running = False
        spy = TestClient.as_file_user(store.port, "gateway", store.site.gateway_password, "spy")
        spy.publish(topic, stale)
        spy.publish(topic, fresh, retain=True)
        spy.publish(topic, b'{"type":"open","req":"req-4"}')
        wait_until(
            lambda: node.counters["cmd_rejected_stale"] == 1 and node.counters["cmd_rejected_bad_signature"] == 1,
            10,
            f"stale and unsigned commands refused, counters {dict(node.counters)}",
        )
        # The retained copy was delivered live (not flagged retained) and obeyed once; a late
        # subscriber gets it flagged retained, and the node refuses it, as it must a replay.
        wait_until(lambda: len(obeyed) == 2, 10, "the fresh command")
        node.stop()
        # The gateway has stopped: this start does not wait for its answer on the boot.
        node = Node(msgspec.structs.replace(node_config, boot=BootConfig(gateway_wait_s=0)), node_base)
        node.on_command("open", handle)
        node.start()
        wait_until(lambda: node.counters["cmd_rejected_retained"] == 1, 10, "the retained command refused")
        spy.publish(topic, fresh)
        wait_until(lambda: node.counters["cmd_rejected_replay"] == 1, 10, "the replayed command refused")
        assert [c.req for c in obeyed] == ["req-1", "req-3"]
        spy.publish(topic, b"", retain=True)
        spy.close()
    finally:
        node.stop()
        if gateway_running:
            gateway.stop()


def test_every_unexpected_disconnect_in_one_boot_is_recorded(make_store) -> None:  # type: ignore[no-untyped-def]
    store: Store = make_store([("shelf-01", Role.SHELF)])
    store.start_gateway()
    store.start_node("shelf-01", 0, 0, "--linger")
    wait_until(lambda: states(store, "shelf-01") == [(1, "online")], 10, "online")
    node_dir = store.site.node_dir("shelf-01")
    for kicks in (1, 2):
        # The same credential takes the session over: the broker drops the node and sends its will.
        TestClient.as_file_user(store.port, "shelf-01", node_dir / "mqtt.pass", "shelf-01").close()
        expected = [(1, "online")] + [(1, "offline"), (1, "online")] * kicks
        wait_until(lambda: states(store, "shelf-01") == expected, 20, f"{kicks} offline and online again")  # noqa: B023
    assert store.query("SELECT state FROM devices WHERE dev='shelf-01'") == [("online",)]


def fake_gateway(store: Store) -> TestClient:
    """A test client with the gateway's credential, announcing the gateway online."""
    client = TestClient.as_file_user(store.port, "gateway", store.site.gateway_password, "gateway")
    client.publish(gateway_state_topic("test"), b'{"state": "online"}', retain=True)
    return client


def test_a_command_that_comes_before_its_handler_is_never_taken_as_seen(make_store) -> None:  # type: ignore[no-untyped-def]
    store: Store = make_store([("gate-01", Role.GATE)])
    gateway = fake_gateway(store)
    signer = CommandSigner("test", "gateway", 1, load_signing_key(store.site.gateway_key))
    no_gateway_wait(store.node_config("gate-01"))
    node = Node(*load_node_config(store.node_config("gate-01")))
    obeyed: list[str] = []
    node.on_command("open", lambda command: obeyed.append(command.req))
    node.start()
    try:

        def send(command: Open | Deny) -> None:
            gateway.publish(*signer.sign("gate-01", command, node.now()))

        wait_until(lambda: node.link.sending, 10, "the node connected, its subscriptions in place")

        send(Open(**UNSTAMPED, node="gate-01", req="open-1", session="s", ttl_ms=60_000))
        wait_until(lambda: obeyed == ["open-1"], 10, "the first open")
        # No handler for `deny` yet (the gate app is still starting): it must not be checked,
        # counted as obeyed and dropped, as if the gate had acted on it.
        send(Deny(**UNSTAMPED, node="gate-01", req="deny-1", reason="not_recognised", ttl_ms=60_000))
        send(Open(**UNSTAMPED, node="gate-01", req="open-2", session="s", ttl_ms=60_000))
        wait_until(lambda: obeyed == ["open-1", "open-2"], 10, "the second open, sent after the deny")
        assert node.counters["cmd_accepted"] == 2
        node.on_command("deny", lambda command: obeyed.append(command.req))
        # The subscription it makes reaches the broker in its own time: deny until one is obeyed.
        deadline = time.monotonic() + 10
        while len(obeyed) == 2 and time.monotonic() < deadline:
            send(Deny(**UNSTAMPED, node="gate-01", req="deny-2", reason="not_recognised", ttl_ms=60_000))
            time.sleep(0.2)
        wait_until(lambda: obeyed[2:3] == ["deny-2"], 10, "a deny once its handler is there")
        assert "deny-1" not in obeyed
    finally:
        node.stop()
        gateway.close()


def test_a_retained_command_never_acts_and_the_gateway_clears_it(make_store, caplog) -> None:  # type: ignore[no-untyped-def]
    store: Store = make_store([("gate-01", Role.GATE)])
    fake = fake_gateway(store)
    signer = CommandSigner("test", "gateway", 1, load_signing_key(store.site.gateway_key))
    topic, retained = signer.sign(
        "gate-01", Open(**UNSTAMPED, node="gate-01", req="kept", session="s", ttl_ms=600_000), wall_ms()
    )
    fake.publish(topic, retained, retain=True)
    fake.close()
    no_gateway_wait(store.node_config("gate-01"))  # the gateway starts after the node here
    obeyed: list[str] = []
    node = Node(*load_node_config(store.node_config("gate-01")))
    node.on_command("open", lambda command: obeyed.append(command.req))
    node.start()
    gateway = Gateway(*load_gateway_config(store.site.gateway_config))
    gateway.start()
    try:
        wait_until(lambda: node.counters["cmd_rejected_retained"] == 1, 10, "the retained open refused")
        wait_until(lambda: f"clearing a command retained on {topic}" in caplog.text, 10, "the gateway clearing it")
        node.stop()
        node = Node(*load_node_config(store.node_config("gate-01")))
        node.on_command("open", lambda command: obeyed.append(command.req))
        node.start()
        wait_until(lambda: states(store, "gate-01")[-1:] == [(2, "online")], 10, "the node back online")
        gateway.send_command("gate-01", Open(**UNSTAMPED, node="gate-01", req="live", session="s", ttl_ms=5_000))
        wait_until(lambda: obeyed == ["live"], 10, "the live open")
        # Subscribing again brought no retained copy: it would have come before the live one.
        assert node.counters["cmd_rejected_retained"] == 0
        assert node.counters["cmd_rejected_bad_signature"] == 0
    finally:
        node.stop()
        gateway.stop()


def test_nothing_is_stamped_before_the_boot_is_settled_and_a_hello_is_never_emitted(tmp_path: Path) -> None:
    site = build_site(tmp_path / "site", "test", [("shelf-01", Role.SHELF)], free_port())
    node = Node(*load_node_config(site.node_dir("shelf-01") / "node.toml"))
    try:
        with pytest.raises(RuntimeError, match="settled the boot"):
            node.emit(synthetic_event(Role.SHELF, "shelf-01", 1, wall_ms()))
        with pytest.raises(ValueError, match="may not emit hello"):
            node.emit(Hello(**UNSTAMPED, nonce="n"))
        assert node.spool.depth() == 0
    finally:
        assert node.stop() == 0

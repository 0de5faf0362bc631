"""The running gateway service: it tells nodes to hold while its journal cannot commit, and
it takes in nodes provisioned while it runs."""

import json
import sqlite3

from edge.protocol.roles import Role
from edge.protocol.topics import gateway_state_topic
from firmware_tests.conftest import Store, assert_exactly_once_in_order, wait_until
from firmware_tests.mqtt_client import TestClient
from gateway.provisioning.provision import add_node
from gateway.provisioning.site import DASHBOARD


def test_a_journal_that_cannot_commit_makes_the_gateway_stalled_and_nodes_hold(make_store) -> None:  # type: ignore[no-untyped-def]
    store: Store = make_store([("shelf-01", Role.SHELF)])
    store.start_gateway()
    dashboard = TestClient.as_file_user(store.port, DASHBOARD, store.site.dashboard_password, "dashboard")
    dashboard.subscribe(gateway_state_topic("test"))
    node = store.start_node("shelf-01", 2_000, 100)
    wait_until(lambda: len(store.journaled("shelf-01")) > 100, 20, "the stream under way")
    # An operator's shell holding a write transaction on the journal: the gateway cannot commit.
    holder = sqlite3.connect(store.journal_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")

    def latest_state() -> str:
        return str(json.loads(dashboard.messages[-1].payload)["state"]) if dashboard.messages else ""

    wait_until(lambda: latest_state() == "stalled", 30, "the gateway to report stalled")
    held = store.spooled("shelf-01")
    # the node goes on making events at 100/s; each one it holds stays in its spool (the
    # broker's acknowledgement of a sent one would have taken it out)
    wait_until(lambda: store.spooled("shelf-01") > held + 100, 30, "the node holding its events while stalled")
    holder.execute("ROLLBACK")
    holder.close()
    wait_until(lambda: latest_state() == "online", 30, "the gateway online again")
    assert node.wait(60) == 0
    wait_until(lambda: len(store.journaled("shelf-01")) >= 2_000, 60, "every event once the journal commits again")
    assert_exactly_once_in_order(store, "shelf-01", 2_000)
    dashboard.close()


def test_a_node_provisioned_while_the_gateway_runs_is_journaled_without_a_restart(make_store) -> None:  # type: ignore[no-untyped-def]
    store: Store = make_store([("shelf-01", Role.SHELF)])
    gateway = store.start_gateway()
    add_node(store.site, "camera-09", Role.CAMERA)
    store.broker.reload()
    node = store.start_node("camera-09", 20, 0)
    assert node.wait(30) == 0
    wait_until(lambda: len(store.journaled("camera-09", "presence")) == 20, 20, "the new node's events")
    assert store.rejects() == {}
    assert gateway.poll() is None, "the gateway was restarted"


def test_a_message_on_a_malformed_command_topic_is_refused_not_taken_for_a_command(make_store) -> None:  # type: ignore[no-untyped-def]
    """Under its command subscription the gateway takes a topic for a command only as the
    protocol's parser reads one; anything else is refused and counted like any malformed
    topic, not dropped unseen."""
    store: Store = make_store([("shelf-01", Role.SHELF)])
    hand = TestClient.as_file_user(store.port, "gateway", store.site.gateway_password, "a-hand")
    hand.publish("store/test/node/shelf-01/cmd/Open", b"{}", retain=True)  # no message type: upper case
    hand.close()
    store.start_gateway()
    wait_until(lambda: store.rejects() == {"bad_topic": 1}, 20, "the malformed topic refused")

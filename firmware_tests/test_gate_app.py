"""The gate app on a simulated lane, through the real broker: credentials become `palm` and
`qr` events, only a fresh, signed, matching `open` pulses the relay, and passages are
reported with the grant they used. The test plays the gateway."""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from edge.gate.app import GateApp
from edge.gate.palm import PalmEncoder
from edge.gate.turnstile import Feedback
from edge.protocol.envelope import SIGNATURE_BYTES
from edge.protocol.keys import load_sealing_key, load_signing_key
from edge.protocol.messages import UNSTAMPED, Open
from edge.protocol.palm_template import PalmTemplate
from edge.protocol.roles import Role
from edge.protocol.sealed import unseal
from edge.protocol.topics import gateway_state_topic
from edge.runtime.node import Node
from firmware_tests.conftest import Store, no_gateway_wait, wait_until
from firmware_tests.mqtt_client import TestClient
from gateway.commands import CommandSigner
from hw.sim.gate_lane import SimGateLane
from hw.sim.gate_node import InProcessGate
from hw.sim.palm import capture, identity, presentation_attack
from hw.sim.site import upstream_home_of
from upstream.palm_match import distance


@dataclass
class Gate:
    store: Store
    node: Node
    app: GateApp
    lane: SimGateLane
    gateway: TestClient
    signer: CommandSigner

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [
            json.loads(bytes(m.payload)[SIGNATURE_BYTES:])
            for m in self.gateway.messages
            if m.topic == f"store/test/node/gate-01/event/{kind}"
        ]

    def next_event(self, kind: str, count: int = 1) -> dict[str, Any]:
        wait_until(lambda: len(self.events(kind)) >= count, 30, f"{count} {kind} event(s)")
        return self.events(kind)[count - 1]

    def open(self, req: str, ttl_ms: int = 5_000, now_ms: int | None = None) -> None:
        command = Open(**UNSTAMPED, node="gate-01", req=req, session="s-1", ttl_ms=ttl_ms)
        topic, payload = self.signer.sign("gate-01", command, self.node.now() if now_ms is None else now_ms)
        self.gateway.publish(topic, payload)


@pytest.fixture
def gate(make_store) -> Iterator[Gate]:  # type: ignore[no-untyped-def]
    store: Store = make_store([("gate-01", Role.GATE)])
    gateway = TestClient.as_file_user(store.port, "gateway", store.site.gateway_password, "gateway")
    gateway.subscribe("store/test/node/gate-01/event/#")
    gateway.publish(gateway_state_topic("test"), b'{"state": "online"}', retain=True)  # nodes hold events until then
    no_gateway_wait(store.node_config("gate-01"))  # the test plays the gateway, but answers no hello
    running = InProcessGate(store.node_config("gate-01")).start()
    signer = CommandSigner("test", "gateway", 1, load_signing_key(store.site.gateway_key))
    yield Gate(store, running.node, running.app, running.lane, gateway, signer)
    running.stop()
    gateway.close()


def test_a_palm_is_sealed_to_upstream_and_its_open_lets_one_person_in(gate: Gate) -> None:
    gate.lane.present_palm(palm_seed=3, capture_seed=1)
    palm = gate.next_event("palm")
    assert palm["purpose"] == "entry" and palm["quality_pm"] >= 300 and palm["live_pm"] >= 500
    payload = unseal(palm["sealed"], load_sealing_key(upstream_home_of(gate.store.site).seal_key))
    sent = PalmTemplate.from_bytes(payload.templates[0])
    encoder = PalmEncoder()
    assert distance(sent, encoder.encode(capture(identity(3), 2)).template) < 0.3, "another capture of this palm"
    assert distance(sent, encoder.encode(capture(identity(4), 2)).template) > 0.3, "and not another palm"
    assert gate.lane.feedback == [Feedback("authorising")]
    opened_at = gate.node.now()
    gate.open(palm["req"])
    wait_until(lambda: len(gate.lane.releases) == 1, 30, "the relay to release")
    assert gate.lane.releases[0] >= opened_at, "released by this open"
    wait_until(lambda: not gate.lane.released, 30, "the pulse to end")
    gate.lane.walk("in", step_s=0.05)
    passage = gate.next_event("passage")
    assert (passage["dir"], passage["grant"], passage["gate"]) == ("in", palm["req"], "gate-01")
    gate.lane.walk("in", step_s=0.05)  # a second person on the same grant
    tailgater = gate.next_event("passage", 2)
    assert tailgater["grant"] is None
    wait_until(lambda: gate.node.counters["doors_forced"] == 1, 30, "the forced entry counted")
    alarm = gate.next_event("alarm")
    assert (alarm["gate"], alarm["kind"], alarm["t"]) == ("gate-01", "door_forced", tailgater["t"])
    assert len(gate.lane.releases) == 1


def test_a_scanned_code_goes_to_the_gateway_as_a_qr_event(gate: Gate) -> None:
    gate.lane.scan("claims.signature")
    qr = gate.next_event("qr")
    assert qr["token"] == "claims.signature"
    gate.open(qr["req"])
    wait_until(lambda: len(gate.lane.releases) == 1, 30, "the relay to release")


def test_qr_reads_and_misreads_are_in_the_health_counters(gate: Gate) -> None:
    gate.lane.scan("claims.signature")
    gate.lane.scan("not a token!")
    gate.next_event("qr")
    wait_until(lambda: gate.node.counters["qr_misreads"] == 1, 30, "the misread counted")
    assert gate.node.counters["qr_scans"] == 1
    assert gate.node.health().counters["qr_misreads"] == 1


def test_a_printed_palm_is_refused_at_the_gate_and_never_sent(gate: Gate) -> None:
    gate.lane.present(presentation_attack(identity(4), 1, "print"))
    wait_until(lambda: Feedback("denied", "not_live") in gate.lane.feedback, 30, "the refusal")
    gate.lane.scan("claims.signature")  # events leave in order: a palm sent for the print comes before this
    gate.next_event("qr")
    assert gate.events("palm") == [] and gate.node.counters["palm_not_live"] == 1


def test_opens_that_are_forged_stale_replayed_or_for_another_request_never_pulse(gate: Gate) -> None:
    gate.lane.present_palm(palm_seed=5, capture_seed=1)
    req = gate.next_event("palm")["req"]
    forger = CommandSigner("test", "gateway", 1, load_signing_key(upstream_home_of(gate.store.site).sign_key))
    command = Open(**UNSTAMPED, node="gate-01", req=req, session="s-1", ttl_ms=5_000)
    topic, forged = forger.sign("gate-01", command, gate.node.now())
    gate.gateway.publish(topic, forged)
    gate.open(req, ttl_ms=1_000, now_ms=gate.node.now() - 10_000)  # stale
    gate.open("someone-else")
    counted = gate.node.counters
    wait_until(
        lambda: (counted["cmd_rejected_bad_signature"], counted["cmd_rejected_stale"], counted["opens_ignored"])
        == (1, 1, 1),
        30, "the forged and the stale open refused, the other request's ignored",
    )  # fmt: skip
    assert gate.lane.releases == []
    topic, genuine = gate.signer.sign("gate-01", command, gate.node.now())
    gate.gateway.publish(topic, genuine)
    wait_until(lambda: len(gate.lane.releases) == 1, 30, "the genuine open")
    gate.gateway.publish(topic, genuine)  # the same signed open again: a replay
    gate.open(req)  # a fresh open for the used request
    wait_until(
        lambda: (counted["cmd_rejected_replay"], counted["opens_ignored"]) == (1, 2),
        30, "the replay refused, the open for a used request ignored",
    )  # fmt: skip
    assert len(gate.lane.releases) == 1


def test_a_retained_open_delivered_on_reconnecting_never_pulses(gate: Gate) -> None:
    gate.lane.present_palm(palm_seed=7, capture_seed=1)
    req = gate.next_event("palm")["req"]
    # Someone with the gate's own credential takes its session over; the gate reconnects.
    intruder = TestClient.as_file_user(
        gate.store.port, "gate-01", gate.store.node_config("gate-01").parent / "mqtt.pass", "gate-01"
    )
    command = Open(**UNSTAMPED, node="gate-01", req=req, session="s-1", ttl_ms=30_000)
    topic, payload = gate.signer.sign("gate-01", command, gate.node.now())
    gate.gateway.publish(topic, payload, retain=True)  # waits on the broker for the next subscriber
    intruder.close()
    wait_until(
        lambda: gate.node.counters["cmd_rejected_retained"] == 1, 30, "the retained open refused on resubscribing"
    )
    gate.gateway.publish(topic, b"", retain=True)
    assert gate.lane.releases == []


def test_the_fire_alarm_releases_the_gate_until_it_clears(gate: Gate) -> None:
    gate.lane.fire_alarm(True)
    wait_until(lambda: gate.lane.released, 30, "the barrier released")
    gate.lane.walk("in", step_s=0.05)
    assert gate.next_event("passage")["grant"] is None
    assert gate.node.counters["doors_forced"] == 0
    gate.lane.fire_alarm(False)
    wait_until(lambda: not gate.lane.released, 30, "the barrier locked again")


def test_captures_are_zeroed_once_handled(gate: Gate) -> None:
    roi = capture(identity(6), 1)
    gate.lane.present(roi)
    gate.next_event("palm")
    assert not roi.any()

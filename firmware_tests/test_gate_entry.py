"""Entry end to end: a gate node on a simulated lane, the real store broker bridged to
upstream's, the gateway and the reference upstream as processes. A palm or an app code in,
the relay released; and the security properties of issue 5 checked on the files everything
wrote. How fast is the bench's business (bench/): here the gate's and the gateway's waits
for an answer are their longest, so a slow machine is not taken for a refusal."""

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.gate.palm import PalmEncoder
from edge.gate.turnstile import Feedback
from edge.protocol.keys import load_sealing_key
from edge.protocol.roles import Role
from edge.protocol.sealed import SealError, unseal
from firmware_tests.conftest import Store, wait_until
from hw.sim.gate_node import InProcessGate
from hw.sim.palm import capture, identity
from hw.sim.shoppers import enrol_shoppers, token

SHOPPERS = {"acct-ann": 3, "acct-bob": 5}
STRANGER = 9


@pytest.fixture
def entry(make_store) -> Iterator[tuple[Store, InProcessGate]]:  # type: ignore[no-untyped-def]
    store: Store = make_store([("gate-01", Role.GATE)])
    patient(store.node_config("gate-01"), "[gate]\n", "authorise_ms = 30000\n")
    patient(store.site.gateway_config, "[upstream]\n", "decision_timeout_ms = 30000\n")
    enrol_shoppers(store.upstream_home, "test", SHOPPERS)
    store.start_upstream()
    store.start_gateway()
    gate = InProcessGate(store.node_config("gate-01")).start()
    yield store, gate
    gate.stop()


def patient(config: Path, table: str, line: str) -> None:
    """Add `line` at the top of a config file's `table`."""
    text = config.read_text()
    assert table in text, f"no {table.strip()} in {config}"
    config.write_text(text.replace(table, table + line, 1))


def released(gate: InProcessGate, count: int) -> None:
    wait_until(lambda: len(gate.lane.releases) >= count, 30, f"release {count}")
    wait_until(lambda: not gate.lane.released, 30, "the pulse to end")


def denied(gate: InProcessGate, reason: str) -> None:
    wait_until(lambda: Feedback("denied", reason) in gate.lane.feedback, 30, f"a deny for {reason}")


def sessions(store: Store) -> list[tuple[str, str, str, int | None]]:
    db = sqlite3.connect(f"file:{store.site.root / 'state' / 'access.db'}?mode=ro", uri=True)
    try:
        return db.execute("SELECT session, account, via, entered_ms FROM grants ORDER BY granted_ms").fetchall()
    finally:
        db.close()


def test_palm_and_code_entry_through_gateway_and_upstream(entry: tuple[Store, InProcessGate]) -> None:
    store, gate = entry
    presented = gate.node.now()
    gate.lane.present_palm(palm_seed=SHOPPERS["acct-ann"], capture_seed=77)
    released(gate, 1)
    assert gate.lane.releases[0] >= presented
    gate.lane.walk("in", step_s=0.05)
    wait_until(lambda: any(row[3] is not None for row in sessions(store)), 30, "the session to open")
    (session, account, via, _) = sessions(store)[0]
    assert (account, via) == ("acct-ann", "palm") and "acct" not in session

    gate.lane.present_palm(palm_seed=STRANGER, capture_seed=1)
    denied(gate, "not_recognised")

    code = token(store.upstream_home, "acct-bob")
    scanned = gate.node.now()
    gate.lane.scan(code)
    released(gate, 2)
    assert gate.lane.releases[1] >= scanned
    gate.lane.walk("in", step_s=0.05)
    gate.lane.scan(code)
    denied(gate, "replayed")
    assert len(gate.lane.releases) == 2
    assert [row[1:3] for row in sessions(store)] == [("acct-ann", "palm"), ("acct-bob", "qr")]
    decisions = store.events("upstream", "decision")
    assert [d["result"] for d in decisions] == ["match", "nomatch"]  # journaled for replay


def test_with_upstream_unreachable_palms_are_denied_and_codes_still_open(entry: tuple[Store, InProcessGate]) -> None:
    store, gate = entry
    gateway_log, down = store.root / "gateway.log", b"the bridge to upstream is down"
    downs = gateway_log.read_bytes().count(down)
    store.upstream_broker.stop()
    wait_until(lambda: gateway_log.read_bytes().count(down) > downs, 30, "the gateway to see the bridge down")
    gate.lane.present_palm(palm_seed=SHOPPERS["acct-ann"], capture_seed=78)
    denied(gate, "upstream_unreachable")
    assert gate.lane.releases == []
    gate.lane.scan(token(store.upstream_home, "acct-bob"))
    released(gate, 1)
    # the palm waited in the outbox and the bridge's queue, and reaches upstream once it is back
    req = store.events("gate-01", "palm")[0]["req"]
    store.upstream_broker.start()
    log = store.root / "upstream.log"
    wait_until(lambda: f"entry {req} ".encode() in log.read_bytes(), 40, "the forwarded palm at upstream")


def test_a_used_code_stays_refused_after_a_gateway_restart(entry: tuple[Store, InProcessGate]) -> None:
    store, gate = entry
    code = token(store.upstream_home, "acct-bob")
    gate.lane.scan(code)
    released(gate, 1)
    gate.lane.walk("in", step_s=0.05)
    store.kill_gateway()
    store.start_gateway()
    gate.lane.scan(code)
    denied(gate, "replayed")
    assert len(gate.lane.releases) == 1


def written_files(*roots: Path) -> list[Path]:
    return [path for root in roots for path in root.rglob("*") if path.is_file()]


def test_nothing_the_gate_or_gateway_writes_holds_a_palm_and_the_gateway_cannot_open_one(
    entry: tuple[Store, InProcessGate],
) -> None:
    store, gate = entry
    gate.lane.present_palm(palm_seed=SHOPPERS["acct-ann"], capture_seed=79)
    released(gate, 1)
    gate.lane.walk("in", step_s=0.05)
    gate.lane.present_palm(palm_seed=STRANGER, capture_seed=2)
    denied(gate, "not_recognised")
    store.broker.stop()  # Mosquitto saves its persistence file on the way out
    roi = capture(identity(SHOPPERS["acct-ann"]), 79)
    template = PalmEncoder().encode(roi).template.to_bytes()
    needles = [template[1 + i : 1 + i + 32] for i in range(0, len(template) - 33, 128)]
    needles += [roi.tobytes()[i : i + 64] for i in range(0, roi.nbytes - 64, roi.nbytes // 8)]
    files = written_files(store.site.root)  # gateway, journal, access record, broker, and the gate's node dir
    assert any(path.name == "journal.db" for path in files) and any(path.name == "spool.db" for path in files)
    for path in files:
        data = path.read_bytes()
        assert not any(needle in data for needle in needles), f"palm bytes in {path}"
    palm = store.events("gate-01", "palm")[0]
    private_keys = [path for path in files if path.suffix == ".key"]
    assert {path.name for path in private_keys} == {"gateway.key", "device.key"}
    for path in private_keys:
        with pytest.raises(SealError):
            unseal(palm["sealed"], load_sealing_key(path))

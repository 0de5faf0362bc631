"""`make demo`: a simulated store on this machine.

It provisions a fresh site, starts a broker (Mosquitto with the generated config, or amqtt
in process when Mosquitto is missing), the gateway, and nodes as real processes: two shelf
nodes running the shelf app on simulated lanes with shoppers at them and a camera running
the camera app on a rendered scene of shoppers at shelf-01 (`storenode run`, backend sim),
and the gate app on a simulated lane, where scripted shoppers enter by palm or app code.
With Mosquitto, the reference upstream runs too, on its own broker behind the store
broker's bridge, and decides the palms; with amqtt there is no bridge, so palms are refused
when no decision comes (`upstream_timeout`) and app codes, checked offline, still open
the gate.
It shows what the gateway journals, kills the gateway with SIGKILL part-way and restarts
it, and ends with what each node made beside what the journal holds, and what happened at
the gate.
"""

import argparse
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from edge.protocol.roles import Role
from gateway.provisioning.site import DASHBOARD
from hw.sim.broker import AmqttBroker, MosquittoBroker, UpstreamMosquitto, find_mosquitto, free_port, start_broker
from hw.sim.gate_node import InProcessGate
from hw.sim.shoppers import enrol_shoppers, token
from hw.sim.site import build_site, upstream_home_of
from upstream.home import UpstreamHome

STORE = "demo"
# (node, role, synthetic events per second; 0 = the role's own app on simulated hardware)
NODES: list[tuple[str, Role, float]] = [
    ("shelf-01", Role.SHELF, 0),
    ("shelf-02", Role.SHELF, 0),
    ("camera-01", Role.CAMERA, 0),
    ("gate-01", Role.GATE, 0),
]
GATE = "gate-01"  # run in this process, so that scripted shoppers can walk its simulated lane
SHOPPERS = {"acct-ann": 3, "acct-bob": 5, "acct-cem": 7}
STRANGER = 9  # a palm never enrolled


def outcome(gate: InProcessGate, present: Callable[[], None]) -> str:
    """Present a credential; how the gate answered. A shopper let in walks through."""
    releases, shown, started = len(gate.lane.releases), len(gate.lane.feedback), gate.node.now()
    present()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if len(gate.lane.releases) > releases:
            opened_ms = gate.lane.releases[-1] - started
            time.sleep(0.3)
            gate.lane.walk("in", step_s=0.1)
            return f"opened in {opened_ms} ms"
        denied = [f for f in gate.lane.feedback[shown:] if f.kind == "denied"]
        if denied:
            return f"refused ({denied[0].reason})"
        time.sleep(0.01)
    return "no answer"


def at_the_gate(gate: InProcessGate, home: UpstreamHome, stopping: threading.Event, outcomes: list[str]) -> None:
    """Shoppers arriving every two seconds or so, by palm and by app code; now and then a
    stranger's palm, or a code shown a second time."""
    n = 0
    while not stopping.wait(1.5):
        account = list(SHOPPERS)[n % len(SHOPPERS)]
        if n % 4 == 3:
            outcomes.append(f"a stranger's palm: {outcome(gate, partial(gate.lane.present_palm, STRANGER, n))}")
        elif n % 2 == 0:
            answer = outcome(gate, partial(gate.lane.present_palm, SHOPPERS[account], n))
            outcomes.append(f"{account}'s palm: {answer}")
        else:
            code = token(home, account)
            outcomes.append(f"{account}'s app code: {outcome(gate, partial(gate.lane.scan, code))}")
            outcomes.append(f"the same code again: {outcome(gate, partial(gate.lane.scan, code))}")
        n += 1


@dataclass
class Running:
    name: str
    process: subprocess.Popen[bytes]
    output: Path


def spawn(name: str, root: Path, *args: str) -> Running:
    """Start a process with its logs in NAME.log and what it prints in NAME.out."""
    output = root / f"{name}.out"
    with open(root / f"{name}.log", "ab") as log, open(output, "ab") as out:
        process = subprocess.Popen([sys.executable, *args], stdout=out, stderr=log)
    return Running(name, process, output)


def journal_view(journal: Path) -> list[tuple[str, str, str, int, int, int]]:
    if not journal.exists():
        return []
    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5)
    try:
        rows = db.execute(
            "SELECT d.dev, coalesce(d.state, '-'), "
            "(SELECT group_concat(type || ' ' || n, ', ') FROM "
            "  (SELECT type, count(*) AS n FROM journal j WHERE j.dev = d.dev AND j.type != 'state' GROUP BY type)), "
            "d.seq, coalesce(d.offset_ms, 0), d.duplicates FROM devices d ORDER BY d.dev"
        ).fetchall()
    finally:
        db.close()
    return [(str(r[0]), str(r[1]), str(r[2] or ""), int(r[3]), int(r[4]), int(r[5])) for r in rows]


def show(journal: Path, elapsed: float, note: str) -> None:
    lines = [f"t={elapsed:5.1f}s  {note}", f"{'node':10} {'state':8} {'seq':>6} {'offset':>7} {'dups':>5}  journaled"]
    lines += [f"{d:10} {s:8} {q:>6} {o:>5}ms {u:>5}  {c}" for d, s, c, q, o, u in journal_view(journal)]
    if sys.stdout.isatty():
        sys.stdout.write("\x1b[H\x1b[J")
    print("\n".join(lines) + "\n", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hw.sim.demo", description=__doc__)
    parser.add_argument("--root", type=Path, default=Path("var/demo"))
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--amqtt", action="store_true", help="use amqtt even when Mosquitto is installed")
    args = parser.parse_args(argv)
    shutil.rmtree(args.root, ignore_errors=True)
    args.root.mkdir(parents=True)
    port, upstream_port = free_port(), free_port()
    site = build_site(
        args.root / "site",
        STORE,
        [(name, role) for name, role, _ in NODES],
        port,
        watches={"camera-01": "shelf-01"},
        upstream_port=upstream_port,
    )
    home = upstream_home_of(site)
    enrol_shoppers(home, STORE, SHOPPERS)
    for seed, (name, _, _) in enumerate(NODES, start=1):
        node_toml = site.node_dir(name) / "node.toml"
        text = node_toml.read_text().replace('backend = "sim"', f'backend = "sim"\nseed = {seed}')
        node_toml.write_text(text + "\n[health]\ninterval_s = 5\n")
    binary = None if args.amqtt else find_mosquitto()
    # upstream's broker first, so that the store broker's bridge connects at once
    upstream_broker = UpstreamMosquitto(home, upstream_port, binary).start() if binary else None
    broker: MosquittoBroker | AmqttBroker = (
        AmqttBroker(port).start() if binary is None else start_broker(site, port, allow_amqtt=False)
    )
    print(f"broker: {broker.kind} listening on {broker.host}:{broker.port}")
    if broker.kind == "mosquitto":
        print(f"  config {site.broker / 'mosquitto.conf'} (ACLs from {site.registry})")
    print(
        f"  watch it: mosquitto_sub -h {broker.host} -p {broker.port} -u {DASHBOARD} "
        f"-P \"$(cat {site.dashboard_password})\" -t 'store/{STORE}/#' -v\n"
    )
    journal = site.root / "state" / "journal.db"
    gateway_args = ("-m", "gateway.cli", "--config", str(site.gateway_config), "run")
    processes = [spawn("gateway", args.root, *gateway_args)]
    if upstream_broker is not None:
        processes.append(spawn("upstream", args.root, "-m", "upstream.cli", "--home", str(home.root), "run"))
        print(f"upstream: its own Mosquitto on port {upstream_port}, bridged from the store's broker\n")
    else:
        print("amqtt has no bridge: palms get no decision (upstream_timeout), app codes still open the gate\n")
    gate = InProcessGate(site.node_dir(GATE) / "node.toml").start()
    gate_outcomes: list[str] = []
    shoppers_leave = threading.Event()
    shoppers = threading.Thread(target=at_the_gate, args=(gate, home, shoppers_leave, gate_outcomes), daemon=True)
    shoppers.start()
    for name, _, rate in NODES:
        if name == GATE:
            continue
        config = str(site.node_dir(name) / "node.toml")
        command: list[str]
        if rate:
            count = str(int(rate * args.seconds))
            command = ["-m", "hw.sim.traffic", "--config", config, "--events", count, "--rate", str(rate), "--linger"]
        else:
            command = ["-m", "edge.runtime.cli", "--config", config, "run"]
        processes.append(spawn(name, args.root, *command))
    started = time.monotonic()
    crash_at, restart_at = args.seconds * 0.4, args.seconds * 0.55
    if broker.kind != "mosquitto":
        # amqtt keeps no queue for an offline persistent session, so a gateway crash would
        # lose what arrives meanwhile; only Mosquitto is trusted with that part.
        print("amqtt broker: skipping the gateway crash and restart (it needs Mosquitto's persistent queues)\n")
        crash_at = restart_at = float("inf")
    crashed = restarted = False
    try:
        while (elapsed := time.monotonic() - started) < args.seconds + 2:
            note = "nodes publishing, gateway journaling"
            if not crashed and elapsed >= crash_at:
                processes[0].process.send_signal(signal.SIGKILL)
                processes[0].process.wait()
                crashed = True
            if crashed and not restarted:
                note = "gateway killed with SIGKILL: nodes keep publishing, the broker queues"
                if elapsed >= restart_at:
                    processes[0] = spawn("gateway", args.root, *gateway_args)
                    restarted = True
            elif restarted:
                note = "gateway restarted: the broker redelivers, the journal dedupes"
            show(journal, elapsed, note)
            time.sleep(1)
        made: dict[str, tuple[int, int]] = {}  # node: (events made, left in its spool)
        shoppers_leave.set()
        shoppers.join(15)
        made[GATE] = (gate.node.made, gate.stop())
        for running in processes[1:]:
            if running.name == "upstream":
                continue
            running.process.send_signal(signal.SIGTERM)
            running.process.wait(15)
            summary = json.loads(running.output.read_text().strip().splitlines()[-1])
            made[running.name] = (int(summary["made"]), int(summary["spool"]))
        time.sleep(1)
        show(journal, time.monotonic() - started, "nodes stopped")
    finally:
        for running in processes:
            if running.process.poll() is None:
                running.process.send_signal(signal.SIGTERM)
                running.process.wait(15)
        broker.stop()
        if upstream_broker is not None:
            upstream_broker.stop()
    db = sqlite3.connect(journal)
    print(f"{'node':10} {'made':>6} {'journaled':>9} {'spooled':>8} {'lost':>5} {'twice':>6}")
    total_lost = total_twice = 0
    for name, _, _ in NODES:
        rows, distinct = db.execute(
            "SELECT count(*), count(DISTINCT seq) FROM journal WHERE dev=? AND seq > 0", (name,)
        ).fetchone()
        made_events, spooled = made[name]
        lost, twice = made_events - distinct - spooled, rows - distinct
        total_lost += lost
        total_twice += twice
        print(f"{name:10} {made_events:>6} {rows:>9} {spooled:>8} {lost:>5} {twice:>6}")
    weights = db.execute("SELECT count(*) FROM journal WHERE type='weight'").fetchone()[0]
    reaches = db.execute("SELECT count(*) FROM journal WHERE type='interaction'").fetchone()[0]
    sightings = db.execute("SELECT count(*) FROM journal WHERE type='presence'").fetchone()[0]
    print(f"\nthe shelves saw {weights} picks and put-backs; the camera saw {reaches} reaches into shelf-01's lanes")
    print(f"and reported the people in the aisle {sightings} times")
    print(f"\nat {GATE}:")
    for line in gate_outcomes:
        print(f"  {line}")
    rejects = db.execute("SELECT count(*) FROM rejects").fetchone()[0]
    print(f"\nlost {total_lost}, journaled twice {total_twice}, rejected {rejects}; journal {journal}")
    print(f"inspect it: .venv/bin/storegw --config {site.gateway_config} devices | journal --stats")
    return 0 if total_lost == 0 and total_twice == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

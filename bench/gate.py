"""Gate entry latency end to end: a credential presented at a simulated gate lane until its
relay releases the barrier, through the real store Mosquitto, its bridge to upstream's own
Mosquitto, the gateway and the reference upstream, each its own process.

    .venv/bin/python bench/gate.py --quick    # under 60 s, 15 shoppers of each kind
    .venv/bin/python bench/gate.py            # about 4 minutes, 150 of each

- palm_to_relay_p95_ms: from the palm capture reaching the gate app to the relay releasing.
  It covers template extraction at the gate, sealing, the `palm` event to the gateway, its
  journal commit, the outbox to the store broker, the bridge, upstream's unseal and 1:N
  search, the signed `decision` back down the bridge, its journal commit, and the signed
  `open` to the gate. The gallery holds the enrolled shoppers only (a 100,000-template
  search adds about 40 ms: bench/palm.py).
- qr_to_relay_p95_ms: from the scanner typing the code on its serial port to the relay
  releasing: the gate's serial read, the `qr` event, its journal commit, the gateway's
  offline token check and nonce record, and the `open` back.

Each shopper walks through after the release, as the next one cannot use the gate before.
A genuine palm refused (not recognised, or a capture too poor) is presented again, as a
shopper would; the latency is the attempt that opened, and refusals are counted.
Times are on one clock (the gate node's); the machine is shared, so the p50 is printed too.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._scoring import percentile  # noqa: E402
from edge.protocol.roles import Role  # noqa: E402
from edge.protocol.topics import gateway_state_topic, upstream_link_topic  # noqa: E402
from hw.sim.broker import MosquittoBroker, UpstreamMosquitto, find_mosquitto, free_port  # noqa: E402
from hw.sim.gate_node import InProcessGate  # noqa: E402
from hw.sim.shoppers import enrol_shoppers, token  # noqa: E402
from hw.sim.site import build_site, upstream_home_of  # noqa: E402

STORE = "bench"
PALM_TRIES = 3
REPO = Path(__file__).resolve().parents[1]


def wait(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.002)


def retained(port: int, password_file: Path, topic: str, want: bytes, timeout_s: float) -> None:
    """Wait until `topic` carries `want`, read as the dashboard account."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    seen: list[bytes] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-probe", protocol=mqtt.MQTTv311)
    client.username_pw_set("dashboard", password_file.read_text().strip())
    client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
    client.on_message = lambda c, u, m: seen.append(bytes(m.payload))
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        wait(lambda: any(want in payload for payload in seen), timeout_s, f"{want!r} on {topic}")
    finally:
        client.disconnect()
        client.loop_stop()


def spawn(log: Path, *module_args: str) -> subprocess.Popen[bytes]:
    with open(log, "wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", *module_args],
            cwd=REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def through(gate: InProcessGate, present: Callable[[], None]) -> float | None:
    """Present a credential and wait for the release, then walk through: the latency in ms;
    None when the gate refused it."""
    count, shown = len(gate.lane.releases), len(gate.lane.feedback)
    started = gate.node.now()
    present()
    refused = lambda: any(f.kind == "denied" for f in gate.lane.feedback[shown:])  # noqa: E731
    wait(lambda: len(gate.lane.releases) > count or refused(), 10, "the relay to release or a refusal")
    if len(gate.lane.releases) == count:
        return None
    latency = gate.lane.releases[-1] - started
    wait(lambda: not gate.lane.released, 3, "the pulse to end")
    gate.lane.walk("in", step_s=0.02)
    return float(latency)


def by_palm(gate: InProcessGate, seed: int, first_capture: int) -> tuple[float, int]:
    """A shopper's palm until the gate opens, as a shopper tries again: (latency, refusals)."""
    for attempt in range(PALM_TRIES):
        latency = through(gate, partial(gate.lane.present_palm, seed, first_capture + attempt))
        if latency is not None:
            return latency, attempt
    raise RuntimeError(f"palm {seed} refused {PALM_TRIES} times")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    shoppers = 15 if args.quick else 150
    binary = find_mosquitto()
    if binary is None:
        sys.exit("Mosquitto is not installed: sudo apt-get install mosquitto")
    with tempfile.TemporaryDirectory(prefix="bench-gate-") as tmp:
        root = Path(tmp)
        port, upstream_port = free_port(), free_port()
        site = build_site(root / "site", STORE, [("gate-01", Role.GATE)], port, upstream_port=upstream_port)
        home = upstream_home_of(site)
        accounts = {f"acct-{n}": 1_000 + n for n in range(shoppers)}
        enrol_shoppers(home, STORE, accounts)
        brokers = [MosquittoBroker(site, port, binary).start(), UpstreamMosquitto(home, upstream_port, binary).start()]
        processes = [
            spawn(root / "upstream.log", "upstream.cli", "--home", str(home.root), "run"),
            spawn(root / "gateway.log", "gateway.cli", "--config", str(site.gateway_config), "run"),
        ]
        gate: InProcessGate | None = None
        try:
            retained(port, site.dashboard_password, gateway_state_topic(STORE), b'"state":"online"', 30)
            retained(port, site.dashboard_password, upstream_link_topic(STORE), b"1", 30)
            wait(lambda: b"connected;" in (root / "upstream.log").read_bytes(), 30, "upstream's service")
            gate = running = InProcessGate(site.node_dir("gate-01") / "node.toml").start()
            through(running, partial(running.lane.scan, token(home, "acct-0")))  # warm: connections, caches
            palm: list[float] = []
            qr: list[float] = []
            palm_refused = 0
            for n, (account, seed) in enumerate(accounts.items()):
                latency, refusals = by_palm(running, seed, 50_000 + PALM_TRIES * n)
                palm.append(latency)
                palm_refused += refusals
                code_latency = through(running, partial(running.lane.scan, token(home, account)))
                if code_latency is None:
                    raise RuntimeError(f"a fresh code of {account} was refused")
                qr.append(code_latency)
        finally:
            if gate is not None:
                gate.stop()
            for process in processes:
                process.terminate()
                process.wait(10)
            for broker in brokers:
                broker.stop()
    result = {
        "palm_to_relay_p95_ms": round(percentile(palm, 0.95), 1),
        "qr_to_relay_p95_ms": round(percentile(qr, 0.95), 1),
        "palm_to_relay_p50_ms": round(percentile(palm, 0.5), 1),
        "qr_to_relay_p50_ms": round(percentile(qr, 0.5), 1),
        "entries": len(palm) + len(qr),
        "palm_refused": palm_refused,  # genuine palms refused before one opened (retried)
    }
    print(f"palm to relay: p50 {result['palm_to_relay_p50_ms']} ms, p95 {result['palm_to_relay_p95_ms']} ms")
    print(f"qr to relay:   p50 {result['qr_to_relay_p50_ms']} ms, p95 {result['qr_to_relay_p95_ms']} ms")
    print(json.dumps(result))


if __name__ == "__main__":
    main()

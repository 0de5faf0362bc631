"""Gateway ingest benchmark: signed events through a real Mosquitto into the journal, beside
the two ceilings that bound it (raw MQTT transport and bare Ed25519 verification).

    .venv/bin/python bench/ingest.py --quick     # under 60 s
    .venv/bin/python bench/ingest.py             # longer, more precise (a few minutes)

Setup: a fresh site in a temp dir (hw.sim.site.build_site, store "bench", PUBLISHERS shelf
devices) and a real Mosquitto on a free loopback port with the site's generated config
(passwords, ACL, max_inflight_messages 5000, max_queued_messages 120000). One publisher
process per device (multiprocessing, spawn) connects with that device's own credential
(node id, nodes/<node>/mqtt.pass) and publishes QoS 1 on its own topic
store/bench/node/<node>/event/weight, keeping at most WINDOW messages in flight (the node
runtime's default spool window). Everything is stopped in a `finally`, also on error or
Ctrl-C; no process is left behind. The phases run in this order, in one run:

(b) raw verify: PyNaCl's VerifyKey.verify on pre-signed typical `weight` payloads (one key
    per device, as the gateway holds them) in a tight loop on one core, while the
    publishers sit idle; several repeats, the median is reported. For diagnosis only, the
    same is done for the gateway's whole Verifier.verify (topic, registry, signature,
    schema) and for IngestCore.process into a scratch journal (verify + SQLite, no MQTT).

(a) raw transport: a plain paho subscriber in its own process (the gateway's username and
    password, client id "bench-raw", clean session, QoS 1, paho's automatic PUBACK)
    receives unsigned ~210-byte `weight` JSON messages that the publisher processes send
    as fast as their window allows. Rate = messages received / (last - first receive).
    This runs before the gateway has ever connected, so the broker holds no gateway
    session that would queue these unsigned messages for it.

(c) ingest: the real gateway runs as a subprocess (`python -m gateway.cli --config
    <site>/gateway.toml run`; persistent session, manual ack after each journal commit,
    journal_sync full). Each publisher pre-signs its events (Weight, correct header: dev,
    boot 1, seq from 1, ts; edge.protocol.envelope.seal with nodes/<node>/device.key), then
    all publish at once as fast as possible. The total stays below the broker's
    120000-message queue. The bench polls the journal read-only every 10 ms for max(id).
    Rate = journaled rows / (time the last row is first seen committed - recv_ms of the
    first journaled row), i.e. from the first message reaching the gateway to the last
    commit; the poll adds at most 10 ms to a span of seconds.

(d) latency: the publishers send freshly signed events (boot 2, seq from 1 again, so that
    dedupe never takes them for replays of phase c) paced to 1,000 events/s in total
    (evenly staggered, 250/s each with 4 publishers), ts stamped at publish time. The
    bench polls the journal every 2 ms (`SELECT ... WHERE id > last`) and takes, per
    row, latency = (wall time just before the poll that first returns it) - ts. That
    includes up to one poll interval (~2 ms) of observation delay and up to 1 ms from
    ts being whole milliseconds; both inflate the figure, never deflate it.

lost = events published in c and d - distinct (dev, boot, seq) journaled of them;
duplicated = journaled rows - distinct (dev, boot, seq). ratio = ingest /
min(raw transport, raw verify).

Diagnostics beside the figures: CPU each group of processes used during phases a and c
(utime + stime from /proc, as cores and as µs per message) and how busy the whole machine
was; `--profile FILE` attaches py-spy to the gateway for phase c (collapsed stacks per
thread; sampling perturbs the figures); `--keep` keeps the temp site, journal and logs.

Noise: made for a shared 2-core machine; the publishers, Mosquitto, the subscriber or
gateway and the bench's poller all compete for the same cores, which is why transport and
ingest are measured side by side in one run, under the same load, rather than compared
with figures from another day. Measured spread on a quiet machine: verify within a few per
cent, transport and ingest about +-15 % between quick runs; under outside load transport and
ingest drop together, so `ratio` is the steadiest figure. The full run is the precise one.

Human-readable progress goes to stdout; the last line is one JSON object with exactly
raw_transport_per_s, raw_verify_per_s, ingest_per_s, ratio, lost, duplicated,
p99_latency_ms_at_1000.
"""

import argparse
import contextlib
import json
import math
import multiprocessing as mp
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from edge.protocol.clock import wall_ms

ROOT = Path(__file__).resolve().parent.parent
STORE = "bench"
PUBLISHERS = 4
WINDOW = 200  # messages in flight per publisher, as the node runtime's spool.max_inflight
BROKER_QUEUE = 120_000  # max_queued_messages the site's Mosquitto config gets for 4 shelves
LATENCY_RATE = 1000.0  # events/s in total for phase d


@dataclass(frozen=True)
class Profile:
    raw_per_publisher: int
    signed_per_publisher: int
    latency_seconds: float
    verify_seconds: float
    verify_repeats: int
    core_messages: int
    drain_idle_s: float  # give up waiting for the journal after this long without progress


QUICK = Profile(
    raw_per_publisher=10_000,
    signed_per_publisher=8_000,
    latency_seconds=5.0,
    verify_seconds=0.5,
    verify_repeats=5,
    core_messages=4_000,
    drain_idle_s=5.0,
)
FULL = Profile(
    raw_per_publisher=25_000,
    signed_per_publisher=25_000,
    latency_seconds=30.0,
    verify_seconds=2.0,
    verify_repeats=5,
    core_messages=20_000,
    drain_idle_s=15.0,
)


def node_ids() -> list[str]:
    return [f"shelf-{i}" for i in range(1, PUBLISHERS + 1)]


def weight_event(node: str, boot: int, seq: int, ts: int) -> Any:
    """A typical shelf `weight` event, distinct per seq: the simulated shelf's own, stamped."""
    import msgspec

    from edge.protocol.roles import Role
    from hw.sim.traffic import synthetic_event

    return msgspec.structs.replace(synthetic_event(Role.SHELF, node, seq, ts), dev=node, boot=boot, seq=seq, ts=ts)


# ---------------------------------------------------------------------------------------
# child processes


def _publisher(node: str, node_dir: str, host: str, port: int, conn: Connection) -> None:
    """One device: its own credential, its own topic, QoS 1, at most WINDOW in flight."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

    from edge.protocol.envelope import seal
    from edge.protocol.keys import load_signing_key
    from edge.protocol.messages import encode_message
    from edge.protocol.topics import event_topic

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us
    directory = Path(node_dir)
    key = load_signing_key(directory / "device.key")
    password = (directory / "mqtt.pass").read_text().strip()
    topic = event_topic(STORE, node, "weight")
    slots = threading.Semaphore(WINDOW)
    connected = threading.Event()
    all_acked = threading.Event()
    state = {"acked": 0, "target": 0}

    def on_connect(client: mqtt.Client, userdata: object, flags: object, reason: Any, props: object) -> None:
        if not reason.is_failure:
            connected.set()

    def on_publish(client: mqtt.Client, userdata: object, mid: int, reason: object, props: object) -> None:
        state["acked"] += 1
        slots.release()
        if state["acked"] >= state["target"]:
            all_acked.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=node, clean_session=True, protocol=mqtt.MQTTv311)
    client.username_pw_set(node, password)
    client.max_inflight_messages_set(0)  # unlimited in paho: the semaphore is the window
    client.on_connect = on_connect
    client.on_publish = on_publish
    client.connect(host, port, keepalive=60)
    client.loop_start()
    if not connected.wait(15):
        conn.send(("error", f"{node} could not connect"))
        client.loop_stop()
        return
    conn.send(("ready", node))

    def begin(n: int) -> None:
        state["acked"] = 0
        state["target"] = n
        all_acked.clear()

    def publish(payload: bytes) -> bool:
        slots.acquire()
        return client.publish(topic, payload, qos=1).rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    def sleep_until(at: float) -> None:
        delay = at - time.time()
        if delay > 0:
            time.sleep(delay)

    payloads: list[bytes] = []
    try:
        while True:
            command, *args = conn.recv()
            if command == "stop":
                break
            if command == "prepare_raw":
                (n,) = args
                now = wall_ms()
                payloads = [encode_message(weight_event(node, 0, seq, now)) for seq in range(1, n + 1)]
                conn.send(("prepared", len(payloads), len(payloads[0])))
            elif command == "prepare_signed":
                n, boot = args
                now = wall_ms()
                payloads = [seal(key, encode_message(weight_event(node, boot, seq, now))) for seq in range(1, n + 1)]
                conn.send(("prepared", len(payloads), len(payloads[0])))
            elif command == "burst":
                (start_at,) = args
                begin(len(payloads))
                sleep_until(start_at)
                started = time.time()
                failed = sum(not publish(p) for p in payloads)
                sent = time.time()
                all_acked.wait(120)
                conn.send(
                    (
                        "done",
                        {
                            "published": len(payloads),
                            "failed": failed,
                            "acked": state["acked"],
                            "started": started,
                            "sent": sent,
                            "acked_at": time.time(),
                        },
                    )
                )
                payloads = []
            elif command == "paced":
                n, rate, start_at, boot = args
                begin(n)
                failed = 0
                worst_late = 0.0
                first = last = 0.0
                for i in range(n):
                    at = start_at + i / rate
                    sleep_until(at)
                    worst_late = max(worst_late, time.time() - at)
                    payload = seal(key, encode_message(weight_event(node, boot, i + 1, wall_ms())))
                    failed += not publish(payload)
                    last = time.time()
                    if i == 0:
                        first = last
                all_acked.wait(60)
                conn.send(
                    (
                        "done",
                        {
                            "published": n,
                            "failed": failed,
                            "acked": state["acked"],
                            "started": first,
                            "sent": last,
                            "acked_at": time.time(),
                            "worst_late_s": worst_late,
                        },
                    )
                )
    finally:
        client.disconnect()
        client.loop_stop()


def _raw_subscriber(host: str, port: int, password: str, expected: int, idle_s: float, conn: Connection) -> None:
    """A plain paho QoS 1 subscriber with automatic acks: what MQTT alone delivers to Python."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    subscribed = threading.Event()
    finished = threading.Event()
    stats = {"n": 0, "first": 0.0, "last": 0.0}

    def on_connect(client: mqtt.Client, userdata: object, flags: object, reason: Any, props: object) -> None:
        if not reason.is_failure:
            client.subscribe(f"store/{STORE}/node/+/event/+", qos=1)

    def on_subscribe(client: mqtt.Client, userdata: object, mid: int, reasons: object, props: object) -> None:
        subscribed.set()

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        now = time.perf_counter()
        if stats["n"] == 0:
            stats["first"] = now
        stats["n"] += 1
        stats["last"] = now
        if stats["n"] >= expected:
            finished.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-raw", clean_session=True, protocol=mqtt.MQTTv311)
    client.username_pw_set("gateway", password)
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect(host, port, keepalive=60)
    client.loop_start()
    try:
        if not subscribed.wait(15):
            conn.send(("error", "raw subscriber could not subscribe"))
            return
        conn.send(("ready", "bench-raw"))
        deadline = time.perf_counter() + 120
        while not finished.wait(0.1):
            now = time.perf_counter()
            if now > deadline or (stats["n"] and now - stats["last"] > idle_s):
                break
        conn.send(("done", {"received": stats["n"], "seconds": stats["last"] - stats["first"]}))
    finally:
        client.disconnect()
        client.loop_stop()


# ---------------------------------------------------------------------------------------
# the bench process


def say(text: str) -> None:
    print(text, flush=True)


def expect(conn: Connection, what: str, timeout: float) -> Any:
    if not conn.poll(timeout):
        raise RuntimeError(f"no {what!r} from a child within {timeout} s")
    message = conn.recv()
    if message[0] != what:
        raise RuntimeError(f"child answered {message!r}, expected {what!r}")
    return message[1] if len(message) == 2 else message[1:]


def gather(conns: list[Connection], what: str, timeout: float) -> list[Any]:
    return [expect(conn, what, timeout) for conn in conns]


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


def measure_verify(site: Any, profile: Profile) -> tuple[float, float, float]:
    """Bare VerifyKey.verify per second on one core, then the gateway's Verifier and IngestCore."""
    from nacl.signing import VerifyKey

    from edge.protocol.envelope import seal
    from edge.protocol.keys import load_signing_key
    from edge.protocol.messages import encode_message
    from edge.protocol.topics import event_topic
    from gateway.ingest import Incoming, IngestCore
    from gateway.journal import Journal
    from gateway.registry import load_registry
    from gateway.verify import Verifier

    now = wall_ms()
    items: list[tuple[Any, bytes, str]] = []
    for node in node_ids():
        key = load_signing_key(site.node_dir(node) / "device.key")
        verify_key = VerifyKey(bytes(key.verify_key))
        topic = event_topic(STORE, node, "weight")
        for seq in range(1, 65):
            items.append((verify_key, seal(key, encode_message(weight_event(node, 9, seq, now))), topic))
    pairs = [(vk.verify, payload) for vk, payload, _ in items]

    def rate_of(run_once: Any, per_run: int, seconds: float) -> float:
        n = 0
        started = time.perf_counter()
        while True:
            run_once()
            n += per_run
            elapsed = time.perf_counter() - started
            if elapsed >= seconds:
                return n / elapsed

    def bare() -> None:
        for verify, payload in pairs:
            verify(payload)

    rates = [rate_of(bare, len(pairs), profile.verify_seconds) for _ in range(profile.verify_repeats)]
    raw_verify = statistics.median(rates)
    say(
        f"(b) raw verify: {raw_verify:,.0f}/s median of {len(rates)} "
        f"({', '.join(f'{r:,.0f}' for r in rates)}); {len(items[0][1])}-byte signed payloads"
    )

    verifier = Verifier(load_registry(site.registry))
    triples = [(verifier.verify, topic, payload) for _, payload, topic in items]

    def whole() -> None:
        for verify, topic, payload in triples:
            verify(topic, payload)

    pipeline = statistics.median(rate_of(whole, len(triples), profile.verify_seconds) for _ in range(3))
    say(f"    gateway Verifier.verify (topic, registry, signature, schema): {pipeline:,.0f}/s")

    # IngestCore alone: verify, sequence, journal insert, device rows, commit (sync full), no MQTT.
    scratch = Path(tempfile.mkdtemp(prefix="core-", dir=site.root))
    journal = Journal(scratch / "journal.db", "full")
    core = IngestCore(verifier, journal, 1024)
    keys = {node: load_signing_key(site.node_dir(node) / "device.key") for node in node_ids()}
    per_node = profile.core_messages // PUBLISHERS
    incoming = [
        Incoming(
            event_topic(STORE, node, "weight"), seal(keys[node], encode_message(weight_event(node, 1, seq, now))), now
        )
        for seq in range(1, per_node + 1)
        for node in node_ids()
    ]
    started = time.perf_counter()
    for i in range(0, len(incoming), 500):
        core.process(incoming[i : i + 500])
    core_rate = len(incoming) / (time.perf_counter() - started)
    journal.close()
    say(f"    gateway IngestCore.process, batches of 500, sync full, no MQTT: {core_rate:,.0f}/s")
    return raw_verify, pipeline, core_rate


def child_pids(pid: int) -> list[int]:
    """Direct children of a process, from /proc (Linux); empty where that is not readable."""
    found: list[int] = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(child) for child in children.read_text().split()]
        except OSError:
            continue
    return found


class CpuMeter:
    """CPU seconds of the processes of interest and of the whole machine, from /proc (Linux)."""

    def __init__(self, pids: dict[str, list[int]]) -> None:
        self.pids = pids
        self.tick = os.sysconf("SC_CLK_TCK")
        self.before = self._sample()

    def _process(self, pid: int) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / self.tick  # utime + stime

    def _sample(self) -> tuple[float, dict[str, float], list[int]]:
        try:
            machine = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        except OSError:
            machine = [0] * 8
        return time.monotonic(), {k: sum(self._process(p) for p in v) for k, v in self.pids.items()}, machine

    def report(self, messages: int) -> str:
        """Cores each group kept busy, and CPU µs per message; machine = all tenants, steal included."""
        t0, groups0, m0 = self.before
        t1, groups1, m1 = self._sample()
        wall = t1 - t0
        used = {k: groups1[k] - groups0[k] for k in self.pids}
        parts = [f"{k} {cpu / wall:.2f} cores ({cpu / messages * 1e6:.0f} us/msg)" for k, cpu in used.items()]
        delta = [b - a for a, b in zip(m0, m1, strict=True)]
        total = sum(delta) or 1
        busy = (total - delta[3] - delta[4]) / total * (os.cpu_count() or 1)
        parts.append(f"machine busy {busy:.2f} of {os.cpu_count()} cores (steal {delta[7] / total * 100:.0f}%)")
        return ", ".join(parts)


class JournalReader:
    """The gateway's journal, opened read-only from the bench process."""

    def __init__(self, path: Path) -> None:
        deadline = time.monotonic() + 10
        while not path.exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the gateway did not create {path}")
            time.sleep(0.05)
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)

    def max_id(self) -> int:
        return int(self.db.execute("SELECT coalesce(max(id), 0) FROM journal").fetchone()[0])

    def close(self) -> None:
        self.db.close()


def wait_gateway_online(host: str, port: int, password: str, gateway: subprocess.Popen[bytes]) -> None:
    """The gateway publishes its retained `online` state after subscribing: then it is ready."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    online = threading.Event()

    def on_connect(client: mqtt.Client, userdata: object, flags: object, reason: Any, props: object) -> None:
        client.subscribe(f"store/{STORE}/gateway/state", qos=1)

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        try:
            if json.loads(message.payload).get("state") == "online":
                online.set()
        except ValueError:
            pass

    probe = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id="bench-probe", clean_session=True, protocol=mqtt.MQTTv311
    )
    probe.username_pw_set("dashboard", password)  # read-only; the broker ties sessions to credentials
    probe.on_connect = on_connect
    probe.on_message = on_message
    probe.connect(host, port, keepalive=60)
    probe.loop_start()
    try:
        deadline = time.monotonic() + 20
        while not online.wait(0.1):
            if gateway.poll() is not None:
                raise RuntimeError(f"the gateway exited with {gateway.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError("the gateway did not come online within 20 s")
    finally:
        probe.disconnect()
        probe.loop_stop()


def start_profiler(pid: int, out: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling the gateway (all threads, idle included) until SIGINT; collapsed stacks."""
    spy = Path(sys.executable).with_name("py-spy")
    command = [
        str(spy) if spy.exists() else "py-spy",
        "record",
        "--pid",
        str(pid),
        "--rate",
        "200",
        "--threads",
        "--idle",
        "--format",
        "raw",
        "--output",
        str(out),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # attach before the burst
    return process


def stop_profiler(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run(profile: Profile, tmp: Path, children: dict[str, Any], profile_out: Path | None) -> dict[str, Any]:
    from edge.protocol.roles import Role
    from gateway.config import load_gateway_config
    from hw.sim.broker import MosquittoBroker, find_mosquitto, free_port
    from hw.sim.site import build_site

    binary = find_mosquitto()
    if binary is None:
        raise RuntimeError("Mosquitto is not installed (sudo apt-get install mosquitto)")
    total_signed = profile.signed_per_publisher * PUBLISHERS
    latency_per_publisher = int(profile.latency_seconds * LATENCY_RATE / PUBLISHERS)
    if max(total_signed, latency_per_publisher * PUBLISHERS) > BROKER_QUEUE - 1000:
        raise RuntimeError("a phase would not fit the broker's queue for the gateway")

    port = free_port()
    site = build_site(tmp / "site", STORE, [(node, Role.SHELF) for node in node_ids()], port)
    config, base = load_gateway_config(site.gateway_config)
    journal_path = base / Path(config.journal).expanduser()  # as the gateway resolves it (absolute wins)
    gateway_password = site.gateway_password.read_text().strip()
    broker = MosquittoBroker(site, port, binary).start()
    children["broker"] = broker
    assert broker.process is not None
    broker_pid = broker.process.pid
    host = broker.host
    say(f"site {site.root}, mosquitto {binary} on {host}:{port}, {PUBLISHERS} shelf publishers, window {WINDOW} each")

    ctx = mp.get_context("spawn")
    conns: list[Connection] = []
    for node in node_ids():
        parent, child = ctx.Pipe()
        process = ctx.Process(
            target=_publisher, args=(node, str(site.node_dir(node)), host, port, child), name=f"pub-{node}", daemon=True
        )
        process.start()
        children.setdefault("processes", []).append(process)
        children.setdefault("conns", []).append(parent)
        conns.append(parent)
    gather(conns, "ready", 60)

    # (b) bare verify, and the gateway's own verify and ingest core, with nothing else busy
    raw_verify, _, _ = measure_verify(site, profile)

    # (a) raw transport
    for conn in conns:
        conn.send(("prepare_raw", profile.raw_per_publisher))
    sizes = gather(conns, "prepared", 60)
    expected_raw = profile.raw_per_publisher * PUBLISHERS
    sub_parent, sub_child = ctx.Pipe()
    subscriber = ctx.Process(
        target=_raw_subscriber,
        name="bench-raw",
        daemon=True,
        args=(host, port, gateway_password, expected_raw, profile.drain_idle_s, sub_child),
    )
    subscriber.start()
    children["processes"].append(subscriber)
    expect(sub_parent, "ready", 60)
    publisher_pids = [p.pid for p in children["processes"][:PUBLISHERS]]
    meter = CpuMeter({"subscriber": [subscriber.pid or 0], "mosquitto": [broker_pid], "publishers": publisher_pids})
    start_at = time.time() + 0.3
    for conn in conns:
        conn.send(("burst", start_at))
    pubs = gather(conns, "done", 180)
    raw = expect(sub_parent, "done", 180)
    cpu = meter.report(raw["received"] or 1)
    subscriber.join(10)
    raw_transport = (raw["received"] - 1) / raw["seconds"] if raw["seconds"] > 0 else 0.0
    publish_span = max(p["acked_at"] for p in pubs) - min(p["started"] for p in pubs)
    say(
        f"(a) raw transport: {raw_transport:,.0f}/s received by bench-raw ({raw['received']:,}/{expected_raw:,} "
        f"messages of {sizes[0][1]} bytes in {raw['seconds']:.2f} s); publishers got PUBACKs at "
        f"{sum(p['acked'] for p in pubs) / publish_span:,.0f}/s"
    )
    say(f"    CPU in phase a: {cpu}")
    if raw["received"] != expected_raw:
        say(f"    warning: the raw subscriber missed {expected_raw - raw['received']} messages")

    # (c) ingest of signed events by the real gateway
    for conn in conns:
        conn.send(("prepare_signed", profile.signed_per_publisher, 1))
    sizes = gather(conns, "prepared", 120)
    with open(tmp / "gateway.log", "wb") as log_file:  # the child keeps its own descriptor
        gateway = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "--config", str(site.gateway_config), "run"],
            cwd=ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    children["gateway"] = gateway
    wait_gateway_online(host, port, site.dashboard_password.read_text().strip(), gateway)
    say(f"gateway pid {gateway.pid} online (log {tmp / 'gateway.log'})")
    reader = JournalReader(journal_path)
    children["reader"] = reader

    if profile_out is not None:
        children["profiler"] = start_profiler(gateway.pid, profile_out)
    gateway_pids = [gateway.pid, *child_pids(gateway.pid)]  # the service and its journal process
    meter = CpuMeter(
        {"gateway": gateway_pids, "mosquitto": [broker_pid], "publishers": publisher_pids, "bench": [os.getpid()]}
    )
    start_at = time.time() + 0.3
    for conn in conns:
        conn.send(("burst", start_at))
    pubs = []
    pending = list(conns)
    last_id = 0
    last_seen = last_change = time.time()
    while True:
        now = time.time()
        current = reader.max_id()
        if current != last_id:
            last_id, last_seen, last_change = current, now, now
        for ready in wait(pending, timeout=0):
            assert isinstance(ready, Connection)
            pubs.append(expect(ready, "done", 1))
            pending.remove(ready)
        if last_id >= total_signed and not pending:
            break
        if not pending and now - last_change > profile.drain_idle_s:
            say(f"    journal stopped at {last_id:,} of {total_signed:,} rows")
            break
        if gateway.poll() is not None:
            raise RuntimeError(f"the gateway exited with {gateway.returncode}")
        time.sleep(0.01)
    cpu = meter.report(total_signed)
    if profile_out is not None:
        stop_profiler(children.pop("profiler"))
        say(f"    py-spy profile of the gateway during phase c: {profile_out}")
    rows_c, first_recv_ms = reader.db.execute(
        "SELECT count(*), min(recv_ms) FROM journal WHERE boot = 1 AND type = 'weight'"
    ).fetchone()
    span = last_seen - first_recv_ms / 1000
    ingest = rows_c / span if span > 0 else 0.0
    publish_span = max(p["acked_at"] for p in pubs) - min(p["started"] for p in pubs)
    say(
        f"(c) ingest: {ingest:,.0f}/s ({rows_c:,}/{total_signed:,} rows of {sizes[0][1]}-byte signed events "
        f"journaled in {span:.2f} s); the broker took them at "
        f"{sum(p['acked'] for p in pubs) / publish_span:,.0f}/s ({publish_span:.2f} s)"
    )

    say(f"    CPU in phase c: {cpu}")

    # (d) latency at a steady 1,000 events/s, fresh boot so phase c's marks do not interfere
    base_id = reader.max_id()
    start_at = time.time() + 0.5
    for k, conn in enumerate(conns):
        conn.send(("paced", latency_per_publisher, LATENCY_RATE / PUBLISHERS, start_at + k / LATENCY_RATE, 2))
    expected_d = latency_per_publisher * PUBLISHERS
    latencies: list[float] = []
    pubs = []
    pending = list(conns)
    cursor = base_id
    last_change = time.time()
    while True:
        seen_ms = time.time_ns() / 1e6
        rows = reader.db.execute(
            "SELECT id, ts FROM journal WHERE id > ? AND boot = 2 ORDER BY id", (cursor,)
        ).fetchall()
        if rows:
            cursor = rows[-1][0]
            latencies.extend(seen_ms - ts for _, ts in rows)
            last_change = time.time()
        for ready in wait(pending, timeout=0):
            assert isinstance(ready, Connection)
            pubs.append(expect(ready, "done", 1))
            pending.remove(ready)
        if not pending and len(latencies) >= expected_d:
            break
        if not pending and time.time() - last_change > profile.drain_idle_s:
            break
        if gateway.poll() is not None:
            raise RuntimeError(f"the gateway exited with {gateway.returncode}")
        time.sleep(0.002)
    latencies.sort()
    if not latencies:
        raise RuntimeError("no phase-d event reached the journal; see the gateway log")
    p99 = percentile(latencies, 99)
    paced_span = max(p["sent"] for p in pubs) - min(p["started"] for p in pubs)
    say(
        f"(d) latency at {expected_d / paced_span:,.0f}/s offered ({expected_d:,} events over {paced_span:.1f} s, "
        f"worst publisher lag {max(p['worst_late_s'] for p in pubs) * 1000:.1f} ms): "
        f"p50 {percentile(latencies, 50):.1f} ms, p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms "
        f"({len(latencies):,} rows, poll every 2 ms)"
    )

    # delivery accounting over phases c and d
    expected = {(node, 1): profile.signed_per_publisher for node in node_ids()}
    expected.update({(node, 2): latency_per_publisher for node in node_ids()})
    rows, distinct = reader.db.execute(
        "SELECT count(*), (SELECT count(*) FROM (SELECT DISTINCT dev, boot, seq FROM journal WHERE seq > 0)) "
        "FROM journal WHERE seq > 0"
    ).fetchone()
    found = 0
    for (node, boot), n in expected.items():
        found += reader.db.execute(
            "SELECT count(DISTINCT seq) FROM journal WHERE dev = ? AND boot = ? AND seq BETWEEN 1 AND ?",
            (node, boot, n),
        ).fetchone()[0]
    lost = sum(expected.values()) - found
    duplicated = rows - distinct
    redelivered = reader.db.execute("SELECT coalesce(sum(duplicates), 0) FROM devices").fetchone()[0]
    rejects = reader.db.execute("SELECT reason, sum(count) FROM rejects GROUP BY reason").fetchall()
    say(
        f"delivery: {sum(expected.values()):,} published, {found:,} journaled, lost {lost}, duplicated "
        f"{duplicated}, redeliveries dropped by dedupe {redelivered}, rejects {dict(rejects) or 'none'}"
    )

    ratio = ingest / min(raw_transport, raw_verify) if min(raw_transport, raw_verify) > 0 else 0.0
    return {
        "raw_transport_per_s": round(raw_transport, 1),
        "raw_verify_per_s": round(raw_verify, 1),
        "ingest_per_s": round(ingest, 1),
        "ratio": round(ratio, 3),
        "lost": int(lost),
        "duplicated": int(duplicated),
        "p99_latency_ms_at_1000": round(p99, 1),
    }


def shutdown(children: dict[str, Any]) -> None:
    """Stop whatever was started, in reverse order, each step independent of the others."""
    stop_profiler(children.get("profiler"))
    reader = children.get("reader")
    if reader is not None:
        reader.close()
    for conn in children.get("conns", []):
        with contextlib.suppress(OSError, ValueError):
            conn.send(("stop",))
    gateway = children.get("gateway")
    if gateway is not None and gateway.poll() is None:
        gateway.send_signal(signal.SIGTERM)
        try:
            gateway.wait(15)
        except subprocess.TimeoutExpired:
            gateway.kill()
            gateway.wait()
    for process in children.get("processes", []):
        process.join(5)
        if process.is_alive():
            process.terminate()
            process.join(5)
        if process.is_alive():
            process.kill()
            process.join()
    broker = children.get("broker")
    if broker is not None:
        broker.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short run, under 60 s")
    parser.add_argument("--keep", action="store_true", help="keep the temp site (journal, logs) for inspection")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="record the gateway with py-spy during phase c (collapsed stacks); perturbs the figures",
    )
    args = parser.parse_args(argv)
    profile = QUICK if args.quick else FULL
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally below
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    children: dict[str, Any] = {}
    try:
        result = run(profile, tmp, children, args.profile)
    finally:
        shutdown(children)
        if args.keep:
            say(f"kept {tmp}")
        else:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    say(f"{'quick' if args.quick else 'full'} run took {time.monotonic() - started:.1f} s")
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

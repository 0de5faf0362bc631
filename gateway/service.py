"""The running gateway: a persistent MQTT session whose messages are acknowledged only after
the journal has committed them.

paho's network thread queues what arrives; a dispatcher hands it in batches to the journal
process (gateway.worker), at most two batches ahead; as each batch comes back committed,
its messages are acknowledged. Acks are sent only for messages received on the current
connection: after a reconnect the broker redelivers the rest, and the journal dedupes
them. If the journal process dies, the gateway stops with an error so that its supervisor
restarts it; whatever was not acknowledged is redelivered.

Journaled `palm`, `qr`, `passage` and `decision` messages then go to access control
(gateway.access), whose commands are signed and sent from here. A `palm` is also queued in
the journal's outbox in the same commit, and so is each receipt the fusion engine makes
final (gateway.live_fusion, in the journal process); a sender thread hands the outbox to the
broker one message at a time and deletes each on its PUBACK, so a forwarded palm or a
receipt survives a gateway crash, and the store broker's bridge queue carries it through
an upstream outage.
"""

import logging
import multiprocessing
import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec
import paho.mqtt.client as mqtt

from edge.protocol.clock import wall_ms
from edge.protocol.configfile import ConfigError, read_password, resolve
from edge.protocol.errors import ProtocolError
from edge.protocol.keys import load_signing_key, load_verify_key
from edge.protocol.messages import UNSTAMPED, BootAnswer
from edge.protocol.session import persistent_client
from edge.protocol.status import Availability, GatewayStatus, Rates, UpstreamLinkState
from edge.protocol.topics import (
    Kind,
    cmd_subscription,
    gateway_alerts_topic,
    gateway_prefix,
    gateway_state_topic,
    node_subscriptions,
    parse_topic,
    upstream_link_topic,
    upstream_subscription,
)
from gateway.access import AccessControl, Output, Send, SessionOpened
from gateway.access_store import AccessStore
from gateway.commands import CommandSigner, GatewayCommand
from gateway.config import GatewayConfig
from gateway.journal import Journal, Outgoing
from gateway.layout import load_layout
from gateway.operator.alerts import Alert, AlertLimiter
from gateway.operator.discovery import discovery_topic
from gateway.operator.view import CLEARED, Summary
from gateway.provisioning.broker_config import MAX_PACKET_BYTES
from gateway.registry import load_registry
from gateway.version import VERSION
from gateway.worker import BatchReport, Ready, ViewReport, Wire, serve

log = logging.getLogger(__name__)

READY_WITHIN_S = 600
# An MQTT PUBLISH beside its topic and payload: fixed header (at most 5 bytes), topic length,
# packet id, MQTT 5 properties; generously.
PUBLISH_OVERHEAD_BYTES = 64


def fits_broker(topic: str, payload: bytes) -> bool:
    """Whether the broker takes this publish: over its max_packet_size it disconnects us, and
    a retained topic republished on every connect would do so on every connect (issue 20)."""
    return len(topic.encode()) + len(payload) + PUBLISH_OVERHEAD_BYTES <= MAX_PACKET_BYTES


@dataclass(frozen=True, slots=True)
class _Received:
    wire: Wire
    mid: int
    qos: int
    connection: int


class JournalProcessError(RuntimeError):
    """The journal process could not start or died."""


class Gateway:
    def __init__(self, config: GatewayConfig, base: Path, clock: Callable[[], int] = wall_ms) -> None:
        self.config = config
        self._clock = clock
        self._started_ms = clock()
        registry = load_registry(resolve(base, config.registry))
        if registry.store != config.store:
            raise ConfigError(f"registry is for store {registry.store}, gateway config for {config.store}")
        if config.layout is not None:
            layout = load_layout(resolve(base, config.layout))
            if layout.store != config.store:
                raise ConfigError(f"layout {config.layout} is for store {layout.store}, gateway for {config.store}")
        key = load_signing_key(resolve(base, config.keys.gateway))
        password = read_password(base, config.broker.password_file)
        self._journal = Journal(resolve(base, config.journal), config.ingest.journal_sync)
        self.boot = self._journal.next_boot()
        self.commands = CommandSigner(config.store, config.id, self.boot, key)
        self._access_store = AccessStore(resolve(base, config.access))
        self.access = AccessControl(
            load_verify_key(resolve(base, config.keys.upstream_sign)),
            config.upstream.decision_timeout_ms if config.upstream is not None else 0,
            upstream=config.upstream is not None,
            used_tokens=self._access_store.used_tokens(clock()),
        )
        self._access_lock = threading.Lock()
        self._access_changed = threading.Event()  # wakes the expiry thread for a new deadline
        self._outgoing: queue.SimpleQueue[Outgoing] = queue.SimpleQueue()
        self.accepted = 0
        self.duplicates = 0
        self.rejected: Counter[str] = Counter()
        self.derived_failed: Counter[str] = Counter()  # the view's topics withheld here, by reason
        self._alerts = AlertLimiter(config.operator.alert_interval_s * 1000)
        self._alerts_lock = threading.Lock()
        # The operator view's retained topics as they stand: published on every connect, and
        # what the sweep after it keeps (any other retained topic of ours is stale).
        self._retained: dict[str, bytes] = {}
        self._summary = Summary(0, 0, 0, 0)
        self._view_lock = threading.Lock()
        self._upstream: UpstreamLinkState = "none" if config.upstream is None else "down"
        self._counts: deque[tuple[float, int, int, int]] = deque(maxlen=61)  # (monotonic, accepted, dup, rejected)
        self._discovery_status = f"{config.operator.discovery_prefix}/status"
        self._queue: queue.SimpleQueue[_Received | None] = queue.SimpleQueue()
        self._ahead = threading.Semaphore(2)
        self._pending: dict[int, tuple[float, list[_Received]]] = {}  # batch id: (sent, batch)
        self._pending_lock = threading.Lock()
        self._connection = 0
        self._stop = threading.Event()
        self._prefix = gateway_prefix(config.store)
        self._client = persistent_client(config.id, config.broker, password)
        self._client.will_set(
            gateway_state_topic(self.config.store), self._state_payload("offline"), qos=1, retain=True
        )
        self._client.on_connect = self._connected
        self._client.on_disconnect = self._disconnected
        self._client.on_message = self._arrived
        self.failed = threading.Event()
        self._pipe, worker_end = multiprocessing.Pipe()
        self._worker = multiprocessing.get_context("spawn").Process(
            target=serve, args=(config, base, self.boot, worker_end), name="storegw-journal", daemon=True
        )
        self._dispatcher = threading.Thread(target=self._dispatch, name="dispatch", daemon=True)
        self._results = threading.Thread(target=self._collect, name="results", daemon=True)
        self._ticker = threading.Thread(target=self._tick, name="gateway-state", daemon=True)
        self._expirer = threading.Thread(target=self._expire, name="access-expiry", daemon=True)
        self._sender = threading.Thread(target=self._send_outbox, name="outbox", daemon=True)

    def start(self) -> None:
        self._worker.start()
        try:
            # the worker replays the journal into the fusion engine before it is ready
            ready = self._pipe.recv() if self._pipe.poll(READY_WITHIN_S) else None
        except EOFError:
            ready = None
        if not isinstance(ready, Ready):
            raise JournalProcessError("the journal process did not start; see its log above")
        self._retained = dict(ready.view.retained)
        self._summary = ready.view.summary
        for outgoing in self._journal.outbox():  # left over, and the receipts the replay issued
            self._outgoing.put(outgoing)
        self._dispatcher.start()
        self._results.start()
        self._ticker.start()
        self._expirer.start()
        self._sender.start()
        self._client.connect_async(self.config.broker.host, self.config.broker.port, self.config.broker.keepalive_s)
        self._client.loop_start()
        log.info("gateway %s boot %d for store %s started", self.config.id, self.boot, self.config.store)

    def stop(self) -> None:
        """Journal and acknowledge what has arrived, then leave with a retained `stopped`."""
        self._stop.set()
        self._access_changed.set()
        self._queue.put(None)
        self._dispatcher.join(10)
        self._results.join(30)
        self._publish_state("stopped", wait=True)
        self._client.disconnect()
        self._client.loop_stop()
        self._worker.join(10)
        if self._worker.is_alive():
            self._worker.terminate()
        self._expirer.join(5)
        with self._access_lock:
            self._access_store.close()
        self._journal.close()

    def send_command(self, node: str, command: GatewayCommand) -> None:
        topic, payload = self.commands.sign(node, command, self._clock())
        self._client.publish(topic, payload, qos=1)

    def _connected(self, client: mqtt.Client, userdata: object, flags: object, reason: object, props: object) -> None:
        if getattr(reason, "is_failure", False):
            log.error("broker refused the gateway: %s", reason)
            return
        self._connection += 1
        for topic in (*node_subscriptions(self.config.store), upstream_subscription(self.config.store)):
            client.subscribe(topic, qos=1)
        if self.config.upstream is not None:
            client.subscribe(upstream_link_topic(self.config.store), qos=1)
        self._publish_state("online")
        with self._view_lock:
            for topic, payload in self._retained.items():
                client.publish(topic, payload, qos=1, retain=True)
        # After our own: the retained messages these bring back that the view no longer
        # holds are stale (a session that ended, a node decommissioned while we were away).
        # QoS 0, so the persistent session queues nothing for them while we are away.
        for topic in self._sweep_subscriptions():
            client.subscribe(topic, qos=0)
        # Commands retained on the broker (by a gateway's bug or a hand with its credential)
        # would reach every node that subscribes: nodes refuse them, and we clear them here,
        # the only client that may write there. Live commands come back too, and are ignored.
        client.subscribe(cmd_subscription(self.config.store), qos=0)
        client.subscribe(self._discovery_status, qos=0)
        log.info("connected to broker (session present: %s)", getattr(flags, "session_present", "?"))

    def _disconnected(
        self, client: mqtt.Client, userdata: object, flags: object, reason: object, props: object
    ) -> None:
        if not self._stop.is_set():
            log.warning("disconnected from broker (%s); reconnecting", reason)

    def _sweep_subscriptions(self) -> tuple[str, str]:
        return f"{self._prefix}/+/+", discovery_topic(self.config.operator.discovery_prefix, "+")

    def _ours(self, topic: str) -> bool:
        """A topic the operator view may hold: its dashboard topics and its discovery messages."""
        prefix = self.config.operator.discovery_prefix
        return topic.startswith(f"{self._prefix}/") or topic.startswith(f"{prefix}/device/{self.config.store}-")

    def _command(self, topic: str) -> bool:
        """A command topic of this store; a malformed one is not, so ingest refuses and counts it."""
        try:
            parsed = parse_topic(topic)
        except ProtocolError:
            return False
        return parsed.kind is Kind.CMD and parsed.store == self.config.store

    def _arrived(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        if message.topic == upstream_link_topic(self.config.store):
            self._link_changed(bytes(message.payload) == b"1")
            client.ack(message.mid, message.qos)
            return
        if message.topic == self._discovery_status:
            if bytes(message.payload) == b"online":
                self._rediscover()
            return
        if self._ours(message.topic):
            if message.retain and message.payload:
                self._sweep(message.topic)
            return
        if self._command(message.topic):
            if message.retain and message.payload:
                log.warning("clearing a command retained on %s: nodes never obey one", message.topic)
                client.publish(message.topic, b"", qos=1, retain=True)
            return
        if not message.payload and "/event/" in message.topic:
            # An empty payload is how a retained message is cleared (by us below, even before a
            # restart, or by a device undoing its own): it carries nothing to journal or count.
            client.ack(message.mid, message.qos)
            return
        if message.retain and "/event/" in message.topic:
            # Events are never retained (DESIGN section 3): take it off the broker, or every
            # subscribe would hand it over again. Ingest refuses this copy as `retained`.
            log.warning("clearing an event retained on %s", message.topic)
            client.publish(message.topic, b"", qos=1, retain=True)
        wire = (message.topic, bytes(message.payload), self._clock(), bool(message.retain))
        self._queue.put(_Received(wire, message.mid, message.qos, self._connection))

    def _dispatch(self) -> None:
        limit = self.config.ingest.batch_max
        batch_id = 0
        while True:
            first = self._queue.get()
            batch = [first] if first is not None else []
            while first is not None and len(batch) < limit:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    first = None
                    break
                batch.append(item)
            if batch:
                self._ahead.acquire()
                batch_id += 1
                with self._pending_lock:
                    self._pending[batch_id] = (time.monotonic(), batch)
                try:
                    self._pipe.send((batch_id, [received.wire for received in batch]))
                except OSError:
                    self._journal_process_lost()
                    return
            if first is None:
                self._pipe.send(None)
                return

    def _collect(self) -> None:
        while True:
            try:
                report: BatchReport | ViewReport = self._pipe.recv()
            except (EOFError, OSError):
                with self._pending_lock:
                    unfinished = bool(self._pending)
                if unfinished or not self._stop.is_set():
                    self._journal_process_lost()
                return
            if isinstance(report, ViewReport):
                self._view_changed(report)
                continue
            with self._pending_lock:
                _, batch = self._pending.pop(report.batch_id)
            for received in batch:
                if received.qos > 0 and received.connection == self._connection:
                    self._client.ack(received.mid, received.qos)
            self._ahead.release()
            self._account(report)
            self._view_changed(report.view)
            for outgoing in report.outbox:
                self._outgoing.put(outgoing)
            for asked in report.asked:
                answer = BootAnswer(**UNSTAMPED, node=asked.dev, nonce=asked.nonce, last_boot=asked.last_boot)
                self.send_command(asked.dev, answer)
                log.info("%s asked for its boot: the newest journaled is %d", asked.dev, asked.last_boot)
            now = self._clock()
            with self._access_lock:
                for message in report.access:
                    self._carry_out(self.access.apply(message, now))
            if report.access:
                self._access_changed.set()

    def _carry_out(self, outputs: list[Output]) -> None:
        """Record what access control decided, then send its commands (a nonce is on disk
        before the `open` it allowed leaves). Called with the access lock held."""
        for output in outputs:
            if isinstance(output, Send):
                self.send_command(output.command.node, output.command)
                log.info("%s %s at %s", output.command.type, output.command.req, output.command.node)
            else:
                self._access_store.record(output)
                if isinstance(output, SessionOpened):
                    log.info("session %s opened at %s", output.session, output.gate)

    def _link_changed(self, up: bool) -> None:
        with self._access_lock:
            if up != self.access.upstream:
                log.warning("the bridge to upstream is %s", "up" if up else "down: palm entry is refused")
            self._carry_out(self.access.link(up))
        was, self._upstream = self._upstream, "up" if up else "down"
        if was != self._upstream and (was == "up" or not up):
            detail = "the bridge to upstream is " + ("up again" if up else "down: palm entry is refused")
            reason = "cleared" if up else "bridge_down"
            self._publish_alert(Alert(self._clock(), "upstream_unreachable", reason, self.config.id, detail, 1, not up))

    def _expire(self) -> None:
        """Deny each palm upstream has not answered in time, waking at its deadline (or when
        new messages went to access control); once a second, forget expired nonces."""
        forgotten_at = 0.0
        while not self._stop.is_set():
            with self._access_lock:
                self._carry_out(self.access.expire(self._clock()))
                deadline = self.access.next_deadline()
                if time.monotonic() - forgotten_at >= 1:
                    self.access.forget(self._clock())
                    self._access_store.forget(self._clock())
                    forgotten_at = time.monotonic()
            wait_s = 1.0 if deadline is None else min(1.0, max(0.0, (deadline - self._clock()) / 1000))
            self._access_changed.wait(wait_s)
            self._access_changed.clear()

    def _send_outbox(self) -> None:
        """Hand the outbox to the broker one message at a time; a message leaves the outbox
        only when the broker has acknowledged it."""
        while not self._stop.is_set():
            try:
                outgoing = self._outgoing.get(timeout=0.5)
            except queue.Empty:
                continue
            info = self._client.publish(outgoing.topic, outgoing.payload, qos=1)
            # paho keeps a message published while disconnected and sends it on reconnect
            while not info.is_published() and not self._stop.is_set():
                try:
                    info.wait_for_publish(1)
                except RuntimeError:
                    self._stop.wait(0.1)
            if info.is_published():
                self._journal.delivered(outgoing.id)

    def _view_changed(self, report: ViewReport) -> None:
        with self._view_lock:
            self._summary = report.summary
            for topic, payload in report.retained.items():
                if not fits_broker(topic, payload):
                    self._withheld(topic, payload)
                    continue
                if payload == CLEARED:
                    self._retained.pop(topic, None)
                else:
                    self._retained[topic] = payload
                if self._client.is_connected():
                    self._client.publish(topic, payload, qos=1, retain=True)
        for alert in report.alerts:
            # a crowd tailgating, or a device flooding what the view bounds: one alert per interval
            if alert.kind in ("door_forced", "door_held", "derived_failed"):
                with self._alerts_lock:
                    limited = self._alerts.raise_alert(
                        alert.ts_ms, alert.kind, alert.reason, alert.dev, alert.detail, alert.count
                    )
                if limited is not None:
                    self._publish_alert(limited)
            else:
                self._publish_alert(alert)

    def _withheld(self, topic: str, payload: bytes) -> None:
        """The view's own bound (MAX_RETAINED_BYTES) is far below the broker's; this is the
        last guard. The topic keeps what it last held. Called with the view lock held."""
        self.derived_failed["oversize"] += 1
        detail = f"{topic} is {len(payload)} bytes, over the broker's max_packet_size: not published"
        log.error("%s", detail)
        with self._alerts_lock:
            alert = self._alerts.raise_alert(self._clock(), "derived_failed", "oversize", self.config.id, detail)
        if alert is not None:
            self._publish_alert(alert)

    def _sweep(self, topic: str) -> None:
        with self._view_lock:
            if topic in self._retained:
                return
        log.info("clearing stale retained %s", topic)
        self._client.publish(topic, CLEARED, qos=1, retain=True)

    def _rediscover(self) -> None:
        """Home Assistant came (back) online: it may have lost our discovery, so send it again."""
        prefix = f"{self.config.operator.discovery_prefix}/device/"
        with self._view_lock:
            for topic, payload in self._retained.items():
                if topic.startswith(prefix):
                    self._client.publish(topic, payload, qos=1, retain=True)

    def _journal_process_lost(self) -> None:
        log.critical("the journal process died; stopping so that the broker redelivers what was not journaled")
        self.failed.set()

    def _account(self, report: BatchReport) -> None:
        self.accepted += report.accepted
        self.duplicates += report.duplicates
        for note in report.rejected:
            self.rejected[note.reason] += 1
            log.warning("rejected %s from %s: %s", note.reason, note.dev, note.detail)
            with self._alerts_lock:
                alert = self._alerts.raise_alert(note.recv_ms, "reject", note.reason, note.dev, note.detail)
            if alert is not None:
                self._publish_alert(alert)

    def _publish_alert(self, alert: Alert) -> None:
        self._client.publish(gateway_alerts_topic(self.config.store), msgspec.json.encode(alert), qos=1)

    def _state_payload(self, state: Availability) -> bytes:
        summary = self._summary
        return msgspec.json.encode(
            GatewayStatus(
                state,
                VERSION,
                (self._clock() - self._started_ms) // 1000,
                self.accepted,
                self.duplicates,
                dict(self.rejected),
                self._queue.qsize() + sum(len(batch) for _, batch in list(self._pending.values())),
                self._rates(),
                summary.devices_online,
                summary.devices_total,
                summary.sessions_open,
                summary.review_queue,
                self._upstream,
                dict(Counter(summary.derived_failed) + self.derived_failed),
            )
        )

    def _rates(self) -> Rates:
        """Per minute, over the samples the ticker took in the last minute."""
        if len(self._counts) < 2:
            return Rates()
        (t0, a0, d0, r0), (t1, a1, d1, r1) = self._counts[0], self._counts[-1]
        span = max(t1 - t0, 1.0)
        return Rates(round((a1 - a0) * 60 / span), round((d1 - d0) * 60 / span), round((r1 - r0) * 60 / span))

    def _publish_state(self, state: Availability, wait: bool = False) -> None:
        info = self._client.publish(
            gateway_state_topic(self.config.store), self._state_payload(state), qos=1, retain=True
        )
        if wait and self._client.is_connected():
            info.wait_for_publish(3)

    def _stalled(self) -> bool:
        """True when the oldest batch has waited longer than `stall_after_s` for its commit."""
        with self._pending_lock:
            oldest = min((sent for sent, _ in self._pending.values()), default=None)
        return oldest is not None and time.monotonic() - oldest > self.config.operator.stall_after_s

    def _tick(self) -> None:
        """Every second: availability on change (and every `state_interval_s`), held alerts when due."""
        published: Availability | None = None
        last_publish = 0.0
        summary = self._summary
        while not self._stop.wait(1):
            self._counts.append((time.monotonic(), self.accepted, self.duplicates, sum(self.rejected.values())))
            state: Availability = "stalled" if self._stalled() else "online"
            if state != published and "stalled" in (state, published):
                stalled = state == "stalled"
                detail = "journal stalled: nodes hold their events" if stalled else "journal committing again"
                log.warning("%s", detail)
                reason = "stalled" if stalled else "cleared"
                self._publish_alert(Alert(self._clock(), "journal_stalled", reason, self.config.id, detail, 1, stalled))
            if self._client.is_connected() and (
                state != published
                or summary != self._summary
                or time.monotonic() - last_publish >= self.config.operator.state_interval_s
            ):
                self._publish_state(state)
                published, last_publish, summary = state, time.monotonic(), self._summary
            with self._alerts_lock:
                due = self._alerts.flush(self._clock())
            for alert in due:
                self._publish_alert(alert)

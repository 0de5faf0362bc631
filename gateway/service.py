"""The running gateway: a persistent MQTT session whose messages are acknowledged only after
the journal has committed them.

paho's network thread queues what arrives; one worker takes it in batches through the
ingest core, commits, then acknowledges. Acks are sent only for messages received on the
current connection: after a reconnect the broker redelivers the rest, and the journal
dedupes them. If a commit fails, the worker drops the connection so that the broker
redelivers everything unacknowledged.
"""

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.protocol.configfile import ConfigError, resolve
from edge.protocol.keys import load_signing_key
from edge.protocol.messages import Deny, Open
from edge.protocol.status import Availability, GatewayStatus
from edge.protocol.topics import gateway_prefix, gateway_state_topic, node_subscriptions
from gateway.alerts import Alert, AlertLimiter
from gateway.commands import CommandSigner
from gateway.config import GatewayConfig
from gateway.ingest import BatchResult, Incoming, IngestCore
from gateway.journal import Journal
from gateway.registry import load_registry
from gateway.verify import Verifier

log = logging.getLogger(__name__)

VERSION = "0.1.0"


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class _Received:
    incoming: Incoming
    mid: int
    qos: int
    connection: int


class Gateway:
    def __init__(self, config: GatewayConfig, base: Path, clock: Callable[[], int] = wall_ms) -> None:
        self.config = config
        self._clock = clock
        self._started_ms = clock()
        registry = load_registry(resolve(base, config.registry))
        if registry.store != config.store:
            raise ConfigError(f"registry is for store {registry.store}, gateway config for {config.store}")
        key = load_signing_key(resolve(base, config.keys.gateway))
        password = None
        if config.broker.password_file is not None:
            path = resolve(base, config.broker.password_file)
            try:
                password = path.read_text().strip()
            except OSError as error:
                raise ConfigError(f"broker password file {path} cannot be read: {error.strerror or error}") from None
        self.journal = Journal(resolve(base, config.journal), config.ingest.journal_sync)
        self.boot = self.journal.next_boot()
        self.core = IngestCore(Verifier(registry), self.journal, config.ingest.dedupe_window)
        self.commands = CommandSigner(config.store, config.id, self.boot, key)
        self.accepted = 0
        self.duplicates = 0
        self.rejected: Counter[str] = Counter()
        self._alerts = AlertLimiter(config.operator.alert_interval_s * 1000)
        self._queue: queue.SimpleQueue[_Received | None] = queue.SimpleQueue()
        self._connection = 0
        self._stop = threading.Event()
        self._prefix = gateway_prefix(config.store)
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=config.id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
        self._client.enable_logger(logging.getLogger("paho"))
        if password is not None:
            self._client.username_pw_set(config.id, password)
        self._client.will_set(
            gateway_state_topic(self.config.store), self._state_payload("offline"), qos=1, retain=True
        )
        self._client.reconnect_delay_set(config.broker.reconnect_min_s, config.broker.reconnect_max_s)
        self._client.on_connect = self._connected
        self._client.on_disconnect = self._disconnected
        self._client.on_message = self._arrived
        self._worker = threading.Thread(target=self._work, name="ingest", daemon=True)
        self._ticker = threading.Thread(target=self._tick, name="gateway-state", daemon=True)

    def start(self) -> None:
        self._worker.start()
        self._ticker.start()
        self._client.connect_async(self.config.broker.host, self.config.broker.port, self.config.broker.keepalive_s)
        self._client.loop_start()
        log.info("gateway %s boot %d for store %s started", self.config.id, self.boot, self.config.store)

    def stop(self) -> None:
        self._stop.set()
        self._queue.put(None)
        self._worker.join(10)
        self._publish_state("stopped", wait=True)
        self._client.disconnect()
        self._client.loop_stop()
        self.journal.close()

    def send_command(self, node: str, command: Open | Deny) -> None:
        topic, payload = self.commands.sign(node, command, self._clock())
        self._client.publish(topic, payload, qos=1)

    def _connected(self, client: mqtt.Client, userdata: object, flags: object, reason: object, props: object) -> None:
        if getattr(reason, "is_failure", False):
            log.error("broker refused the gateway: %s", reason)
            return
        self._connection += 1
        for topic in node_subscriptions(self.config.store):
            client.subscribe(topic, qos=1)
        self._publish_state("online")
        log.info("connected to broker (session present: %s)", getattr(flags, "session_present", "?"))

    def _disconnected(
        self, client: mqtt.Client, userdata: object, flags: object, reason: object, props: object
    ) -> None:
        if not self._stop.is_set():
            log.warning("disconnected from broker (%s); reconnecting", reason)

    def _arrived(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        incoming = Incoming(message.topic, bytes(message.payload), self._clock())
        self._queue.put(_Received(incoming, message.mid, message.qos, self._connection))

    def _work(self) -> None:
        limit = self.config.ingest.batch_max
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < limit:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)
                    break
                batch.append(item)
            result = self._commit(batch)
            if result is None:
                return
            for received in batch:
                if received.qos > 0 and received.connection == self._connection:
                    self._client.ack(received.mid, received.qos)
            self._account(result)

    def _commit(self, batch: list[_Received]) -> BatchResult | None:
        """Process a batch until its commit succeeds; nothing is acknowledged before that."""
        pause = 0.5
        while True:
            try:
                return self.core.process([r.incoming for r in batch])
            except Exception:
                log.exception("journal commit failed; retrying in %.1f s with nothing acknowledged", pause)
                if self._stop.wait(pause):
                    return None
                pause = min(pause * 2, 30.0)

    def _account(self, result: BatchResult) -> None:
        self.accepted += len(result.accepted)
        self.duplicates += result.duplicates
        for rejected in result.rejected:
            self.rejected[rejected.error.reason] += 1
            log.warning("rejected %s from %s: %s", rejected.error.reason, rejected.dev, rejected.error.detail)
            alert = self._alerts.raise_alert(
                rejected.incoming.recv_ms, "reject", rejected.error.reason, rejected.dev, rejected.error.detail
            )
            if alert is not None:
                self._publish_alert(alert)

    def _publish_alert(self, alert: Alert) -> None:
        self._client.publish(f"{self._prefix}/alerts", msgspec.json.encode(alert), qos=1)

    def _state_payload(self, state: Availability) -> bytes:
        return msgspec.json.encode(
            GatewayStatus(
                state,
                VERSION,
                (self._clock() - self._started_ms) // 1000,
                self.accepted,
                self.duplicates,
                dict(self.rejected),
                self._queue.qsize(),
            )
        )

    def _publish_state(self, state: Availability, wait: bool = False) -> None:
        info = self._client.publish(
            gateway_state_topic(self.config.store), self._state_payload(state), qos=1, retain=True
        )
        if wait and self._client.is_connected():
            info.wait_for_publish(3)

    def _tick(self) -> None:
        while not self._stop.wait(self.config.operator.state_interval_s):
            if self._client.is_connected():
                self._publish_state("online")

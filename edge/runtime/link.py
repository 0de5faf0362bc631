"""The MQTT link of a node: paho-mqtt at QoS 1, fed from the spool in order.

A sender thread hands spooled messages to paho while connected, at most `max_inflight`
at a time (paho's message ids wrap at 65535, and a long outage must not sit in RAM);
paho resends what is in flight after a reconnect; each broker acknowledgement deletes
its row. The retained `state` is published on every connect, and the signed `offline`
state is the last will, signed afresh before every connection so that each unexpected
disconnect is a distinct message the gateway records.

Events leave the spool only while the gateway's retained status says `online`. Before
the gateway's first connection the broker would acknowledge events and queue them for no
one (a store's first power-on, a broker with fresh data). While the gateway is stopped or
offline, the broker would queue them only up to its limit and then drop them silently.
So a gateway outage of any length is held in the nodes' spools, on disk, and the broker's
queue need only cover the moments between a gateway failing and its last will.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from edge.protocol.status import gateway_online
from edge.runtime.spool import Spool

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    username: str
    password: str | None
    keepalive_s: int
    reconnect_min_s: int
    reconnect_max_s: int


@dataclass(frozen=True, slots=True)
class Retained:
    topic: str
    payload: bytes


class MqttLink:
    def __init__(
        self,
        broker: BrokerAddress,
        spool: Spool,
        max_inflight: int,
        will: Callable[[], Retained],
        online: Callable[[], Retained],
        on_message: Callable[[mqtt.MQTTMessage], None],
        gateway_state_topic: str,
    ) -> None:
        self._broker = broker
        self._spool = spool
        self._window = max_inflight
        self._online = online
        self._subscriptions: list[str] = []
        self._on_message = on_message
        self._gateway_state_topic = gateway_state_topic
        self._gateway_online = False
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=broker.username, clean_session=True, protocol=mqtt.MQTTv311
        )
        self._client.enable_logger(logging.getLogger("paho"))
        if broker.password is not None:
            self._client.username_pw_set(broker.username, broker.password)
        self._will = will
        self._client.max_inflight_messages_set(max_inflight)
        self._client.reconnect_delay_set(broker.reconnect_min_s, broker.reconnect_max_s)
        self._client.on_connect = self._connected
        self._client.on_disconnect = self._disconnected
        self._client.on_publish = self._published
        self._client.on_message = self._arrived
        self._wake = threading.Condition()
        self._connected_now = False
        self._stopping = False
        self._more = True
        self._inflight: dict[int, int] = {}
        self._early_acks: set[int] = set()
        # acks of the link's own state publishes, which must never be taken for a spool row's
        self._own_mids: set[int] = set()
        self._acked: list[int] = []
        self._sender = threading.Thread(target=self._send_loop, name="spool-sender", daemon=True)

    @property
    def connected(self) -> bool:
        return self._connected_now

    @property
    def sending(self) -> bool:
        """Connected, and the gateway is online: events may leave the spool."""
        return self._connected_now and self._gateway_online

    def start(self) -> None:
        self._set_will()  # signed now, not when built: the node settles its boot in between
        self._client.connect_async(self._broker.host, self._broker.port, keepalive=self._broker.keepalive_s)
        self._client.loop_start()
        self._sender.start()

    def wake(self) -> None:
        """Tell the sender that the spool has a new row."""
        with self._wake:
            self._more = True
            self._wake.notify()

    def subscribe(self, topic: str) -> None:
        """Subscribe to `topic` now if connected, and again on every connect (the session is clean)."""
        with self._wake:
            self._subscriptions.append(topic)
            live = self._connected_now
        if live:  # else the next connect subscribes it (a connect racing this may send it twice: harmless)
            self._client.subscribe(topic, qos=1)

    def publish_retained(self, message: Retained, timeout_s: float) -> bool:
        info = self._client.publish(message.topic, message.payload, qos=1, retain=True)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            return False
        info.wait_for_publish(timeout_s)
        return info.is_published()

    def stop(self, final_state: Retained | None, timeout_s: float = 3.0) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._sender.join(timeout_s)
        if final_state is not None and self._connected_now:
            self.publish_retained(final_state, timeout_s)
        self._client.disconnect()
        self._client.loop_stop()

    def _connected(self, client: mqtt.Client, userdata: object, flags: object, reason: object, props: object) -> None:
        if getattr(reason, "is_failure", False):
            log.error("broker %s:%s refused the connection: %s", self._broker.host, self._broker.port, reason)
            return
        state = self._online()
        info = client.publish(state.topic, state.payload, qos=1, retain=True)
        with self._wake:
            self._own_mids.add(info.mid)
        log.info("connected to %s:%s", self._broker.host, self._broker.port)
        with self._wake:
            # Under the lock: a topic `subscribe` adds now is either in this list or sent by it.
            # The gateway's status last: once it arrives, the broker has the others in place.
            for topic in [*self._subscriptions, self._gateway_state_topic]:
                client.subscribe(topic, qos=1)
            self._connected_now = True
            self._more = True
            self._wake.notify()

    def _disconnected(
        self, client: mqtt.Client, userdata: object, flags: object, reason: object, props: object
    ) -> None:
        with self._wake:
            self._connected_now = False
            self._gateway_online = False
        self._set_will()
        if not self._stopping:
            log.warning("disconnected from broker (%s); reconnecting", reason)

    def _arrived(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        if message.topic != self._gateway_state_topic:
            self._on_message(message)
            return
        online = gateway_online(bytes(message.payload))
        if online != self._gateway_online:
            log.info("gateway %s; %s", "online" if online else "not online", "sending" if online else "holding events")
        with self._wake:
            self._gateway_online = online
            self._wake.notify()

    def _set_will(self) -> None:
        will = self._will()
        self._client.will_set(will.topic, will.payload, qos=1, retain=True)

    def _published(self, client: mqtt.Client, userdata: object, mid: int, reason: object, props: object) -> None:
        with self._wake:
            if mid in self._own_mids:
                self._own_mids.discard(mid)
                return
            spool_id = self._inflight.pop(mid, None)
            if spool_id is None:
                self._early_acks.add(mid)
            else:
                self._acked.append(spool_id)
            self._wake.notify()

    def _send_loop(self) -> None:
        cursor = 0
        while True:
            with self._wake:
                while not (self._stopping or self._acked or (self._more and self._room() > 0)):
                    self._wake.wait(1.0)
                if self._stopping:
                    return
                acked, self._acked = self._acked, []
                room = self._room()
                # Cleared before reading: an append that commits after the read sets it again.
                self._more = False
            self._spool.delete(acked)
            rows = self._spool.after(cursor, room) if room > 0 else []
            for row in rows:
                info = self._client.publish(row.topic, row.payload, qos=1)
                with self._wake:
                    if info.mid in self._early_acks:
                        self._early_acks.discard(info.mid)
                        self._acked.append(row.id)
                    else:
                        self._inflight[info.mid] = row.id
                cursor = row.id
            if room > 0 and len(rows) == room:
                with self._wake:
                    self._more = True

    def _room(self) -> int:
        return self._window - len(self._inflight) if self._connected_now and self._gateway_online else 0

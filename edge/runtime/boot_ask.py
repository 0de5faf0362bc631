"""Asking the gateway for a node's newest boot before the node stamps anything (DESIGN
section 5: a node's boot never goes back, also when its card is replaced or restored).

The node publishes a signed `hello` (boot 0, seq 0: it stands outside every boot) with a
random nonce on its own event topic; the gateway answers on the node's `cmd/boot` with the
newest boot it has journaled from the node, the nonce echoed, signed with its key. The
exchange has a short MQTT session of its own, before the node's link: the link's last will
and its `online` state carry the boot, which is what is being asked.

The hello is sent while the gateway's retained status says `online` (otherwise nobody would
answer, and copies would pile up in the gateway's queue), and again every ASK_EVERY_S
until an answer comes: a gateway that crashed after taking a hello never answers it.
"""

import logging
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable

import paho.mqtt.client as mqtt
from nacl.signing import SigningKey
from paho.mqtt.enums import CallbackAPIVersion

from edge.protocol.envelope import seal
from edge.protocol.errors import ProtocolError
from edge.protocol.messages import Hello, encode_message
from edge.protocol.status import gateway_online
from edge.protocol.topics import cmd_topic, event_topic, gateway_state_topic
from edge.runtime.commands import CommandGuard
from edge.runtime.link import BrokerAddress

log = logging.getLogger(__name__)

ASK_EVERY_S = 3.0
WARN_EVERY = 10  # unanswered hellos between warnings (30 s)
TURN_S = 0.5  # how often the wait looks at the clock, the stop event and `tick`


class BootAsk:
    def __init__(
        self,
        broker: BrokerAddress,
        store: str,
        node: str,
        key: SigningKey,
        guard: CommandGuard,
        counters: Counter[str],
        clock: Callable[[], int],
    ) -> None:
        self._broker = broker
        self._node = node
        self._nonce = secrets.token_urlsafe(16)
        hello = Hello(v=1, dev=node, boot=0, seq=0, ts=clock(), nonce=self._nonce)
        self._hello = seal(key, encode_message(hello))
        self._hello_topic = event_topic(store, node, "hello")
        self._answer_topic = cmd_topic(store, node, "boot")
        self._gateway_state_topic = gateway_state_topic(store)
        self._guard = guard
        self._changed = threading.Condition()
        self._connected = False
        self._gateway_online = False
        self._answer: int | None = None
        self._counters = counters

    def ask(self, wait_s: float | None, stopping: threading.Event, tick: Callable[[], None]) -> int | None:
        """The newest boot the gateway holds from this node; None once `wait_s` has passed
        unanswered (None: wait however long) or `stopping` is set. `tick` is called every turn."""
        if wait_s == 0:
            return None
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=self._broker.username, clean_session=True, protocol=mqtt.MQTTv311
        )
        client.enable_logger(logging.getLogger("paho"))
        if self._broker.password is not None:
            client.username_pw_set(self._broker.username, self._broker.password)
        client.reconnect_delay_set(self._broker.reconnect_min_s, self._broker.reconnect_max_s)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.connect_async(self._broker.host, self._broker.port, keepalive=self._broker.keepalive_s)
        client.loop_start()
        deadline = None if wait_s is None else time.monotonic() + wait_s
        sent_at: float | None = None
        sent = 0
        try:
            while not stopping.is_set():
                tick()
                now = time.monotonic()
                with self._changed:
                    if self._answer is not None:
                        return self._answer
                    if deadline is not None and now >= deadline:
                        return None
                    due = sent_at is None or now - sent_at >= ASK_EVERY_S
                    send = self._connected and self._gateway_online and due
                if send:
                    client.publish(self._hello_topic, self._hello, qos=1)
                    sent_at, sent = now, sent + 1
                    if sent % WARN_EVERY == 0:
                        log.warning(
                            "the gateway is online but has not answered %d hellos; a broker ACL made before "
                            "nodes sent `hello` drops them (make broker-config, then reload Mosquitto)",
                            sent,
                        )
                with self._changed:
                    if self._answer is None:
                        self._changed.wait(TURN_S if deadline is None else min(TURN_S, max(0.0, deadline - now)))
            return None
        finally:
            if client.is_connected():
                client.disconnect()
            client.loop_stop()

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object, reason: object, props: object) -> None:
        if getattr(reason, "is_failure", False):
            log.error("broker %s:%s refused the connection: %s", self._broker.host, self._broker.port, reason)
            return
        client.subscribe(self._answer_topic, qos=1)
        client.subscribe(self._gateway_state_topic, qos=1)
        with self._changed:
            self._connected = True
            self._changed.notify()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: object, flags: object, reason: object, props: object
    ) -> None:
        with self._changed:
            self._connected = False
            self._gateway_online = False

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        """Runs on paho's network thread: nothing may escape it."""
        if message.topic == self._gateway_state_topic:
            online = gateway_online(bytes(message.payload))
            with self._changed:
                self._gateway_online = online
                self._changed.notify()
            return
        if message.topic != self._answer_topic or not message.payload:
            return  # a broker that hands out more than was subscribed (amqtt), or a retained answer cleared
        try:
            last = self._guard.boot_answer(message.topic, bytes(message.payload), bool(message.retain), self._nonce)
        except ProtocolError as error:
            self._counters[f"cmd_rejected_{error.reason}"] += 1
            log.warning("boot answer refused: %s", error)
            return
        with self._changed:
            if self._answer is None:
                self._answer = last
            self._changed.notify()

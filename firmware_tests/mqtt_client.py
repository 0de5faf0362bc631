"""A small blocking paho client for tests that play a device, an attacker or a dashboard."""

import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

# Only bounds a hang: the broker's answers are waited for, however long a loaded machine takes.
ANSWER_S = 30.0


class TestClient:
    __test__ = False

    def __init__(self, port: int, username: str, password: str, client_id: str) -> None:
        """Returns once the broker has answered the connect: connected, or `refused` says why."""
        self.messages: list[mqtt.MQTTMessage] = []
        self.refused: str | None = None
        self._unwaited: list[mqtt.MQTTMessageInfo] = []
        self._connected = threading.Event()
        self._answers = threading.Condition()
        self._subscribed: set[int] = set()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
        self._client.username_pw_set(username, password)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = lambda client, userdata, message: self.messages.append(message)
        self._client.connect("127.0.0.1", port, keepalive=15)
        self._client.loop_start()
        if not self._connected.wait(ANSWER_S):
            raise TimeoutError(f"no answer to {client_id}'s connect in {ANSWER_S} s")

    @classmethod
    def as_file_user(cls, port: int, username: str, password_file: Path, client_id: str) -> "TestClient":
        return cls(port, username, password_file.read_text().strip(), client_id)

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object, reason: object, props: object) -> None:
        if getattr(reason, "is_failure", False):
            self.refused = str(reason)
        self._connected.set()

    def _on_subscribe(self, client: mqtt.Client, userdata: object, mid: int, reasons: object, props: object) -> None:
        with self._answers:
            self._subscribed.add(mid)
            self._answers.notify_all()

    @property
    def connected(self) -> bool:
        return self._client.is_connected()

    def publish(self, topic: str, payload: bytes, retain: bool = False, wait: bool = True) -> None:
        """Publish at QoS 1; with `wait`, returns once the broker has acknowledged it."""
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        if wait:
            info.wait_for_publish(ANSWER_S)
            if not info.is_published():
                raise TimeoutError(f"no acknowledgement of a publish to {topic} in {ANSWER_S} s")
        else:
            self._unwaited.append(info)

    def subscribe(self, topic: str) -> None:
        """Subscribe at QoS 1; returns once the broker has acknowledged it (its retained
        messages for `topic` may still be on their way)."""
        rc, mid = self._client.subscribe(topic, qos=1)
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise ConnectionError(f"subscribing to {topic}: {mqtt.error_string(rc)}")
        with self._answers:
            if not self._answers.wait_for(lambda: mid in self._subscribed, ANSWER_S):
                raise TimeoutError(f"no acknowledgement of the subscription to {topic} in {ANSWER_S} s")

    def close(self) -> None:
        """Disconnect once every publish has been acknowledged (or after 30 s)."""
        deadline = time.monotonic() + 30
        for info in self._unwaited:
            info.wait_for_publish(max(0.0, deadline - time.monotonic()))
        self._client.disconnect()
        self._client.loop_stop()

"""A small blocking paho client for tests that play a device, an attacker or a dashboard."""

import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


class TestClient:
    __test__ = False

    def __init__(self, port: int, username: str, password: str, client_id: str) -> None:
        self.messages: list[mqtt.MQTTMessage] = []
        self.refused: str | None = None
        self._unwaited: list[mqtt.MQTTMessageInfo] = []
        self._connected = threading.Event()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
        self._client.username_pw_set(username, password)
        self._client.on_connect = self._on_connect
        self._client.on_message = lambda client, userdata, message: self.messages.append(message)
        self._client.connect("127.0.0.1", port, keepalive=15)
        self._client.loop_start()
        self._connected.wait(5)

    @classmethod
    def as_file_user(cls, port: int, username: str, password_file: Path, client_id: str) -> "TestClient":
        return cls(port, username, password_file.read_text().strip(), client_id)

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object, reason: object, props: object) -> None:
        if getattr(reason, "is_failure", False):
            self.refused = str(reason)
        self._connected.set()

    @property
    def connected(self) -> bool:
        return self._client.is_connected()

    def publish(self, topic: str, payload: bytes, retain: bool = False, wait: bool = True) -> None:
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        if wait:
            info.wait_for_publish(5)
        else:
            self._unwaited.append(info)

    def subscribe(self, topic: str) -> None:
        done = threading.Event()
        self._client.on_subscribe = lambda *args: done.set()
        self._client.subscribe(topic, qos=1)
        done.wait(5)

    def close(self) -> None:
        """Disconnect once every publish has been acknowledged (or after 30 s)."""
        deadline = time.monotonic() + 30
        for info in self._unwaited:
            info.wait_for_publish(max(0.0, deadline - time.monotonic()))
        self._client.disconnect()
        self._client.loop_stop()

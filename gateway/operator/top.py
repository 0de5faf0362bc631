"""`storegw top`: the store in a terminal, from the gateway's dashboard topics, as any other
MQTT dashboard sees it. It logs in with the read-only dashboard account, so it can run on
any machine that reaches the broker, and it never touches the journal."""

import curses
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.protocol.clock import wall_ms
from edge.protocol.configfile import ConfigError
from edge.protocol.topics import dashboard_subscriptions
from gateway.operator.board import Board
from gateway.operator.screen import render

log = logging.getLogger(__name__)

REDRAW_S = 0.5


@dataclass(frozen=True, slots=True)
class Login:
    host: str
    port: int
    username: str
    password: str


class Feed:
    """A clean MQTT session subscribed to the gateway's tree, filling a board."""

    def __init__(self, store: str, login: Login) -> None:
        self.board = Board(store)
        self.lock = threading.Lock()
        self.connection = "connecting"
        self.refused = False
        self._store = store
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"storegw-top-{os.getpid()}", clean_session=True
        )
        self._client.username_pw_set(login.username, login.password)
        self._client.on_connect = self._connected
        self._client.on_disconnect = self._disconnected
        self._client.on_message = self._arrived
        self._client.reconnect_delay_set(1, 10)
        self._client.connect_async(login.host, login.port, keepalive=15)
        self._login = login

    def start(self) -> None:
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _connected(self, client: mqtt.Client, userdata: object, flags: object, reason: object, props: object) -> None:
        if getattr(reason, "is_failure", False):
            self.connection = f"refused: {reason}"
            self.refused = True
            return
        self.connection = f"{self._login.host}:{self._login.port}"
        for topic in dashboard_subscriptions(self._store):
            client.subscribe(topic, qos=1)

    def _disconnected(
        self, client: mqtt.Client, userdata: object, flags: object, reason: object, props: object
    ) -> None:
        if not self.refused:
            self.connection = f"lost ({reason}); reconnecting"

    def _arrived(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.board.take(message.topic, bytes(message.payload))


def once(feed: Feed, settle_s: float, width: int, height: int) -> str:
    """One screen, after `settle_s` for the retained topics to arrive: for scripts and logs."""
    feed.start()
    time.sleep(settle_s)
    try:
        with feed.lock:
            return "\n".join(render(feed.board, feed.connection, wall_ms(), width, height))
    finally:
        feed.stop()


def run(feed: Feed) -> None:
    """Redraw twice a second until `q` (or Ctrl-C)."""
    feed.start()
    try:
        curses.wrapper(_loop, feed)
    except KeyboardInterrupt:
        pass
    finally:
        feed.stop()


def _loop(screen: "curses.window", feed: Feed) -> None:
    curses.curs_set(0)
    screen.timeout(int(REDRAW_S * 1000))
    while True:
        height, width = screen.getmaxyx()
        with feed.lock:
            lines = render(feed.board, feed.connection, wall_ms(), width - 1, height)
        screen.erase()
        for row, line in enumerate(lines):
            try:
                screen.addstr(row, 0, line)
            except curses.error:  # the terminal shrank under us; the next frame fits again
                break
        screen.refresh()
        key = screen.getch()
        if key in (ord("q"), ord("Q")):
            return


def password_of(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError as error:
        raise ConfigError(
            f"cannot read the dashboard's broker password {path}: {error.strerror}; "
            "`storeprov init` writes it on the gateway (keys/dashboard.mqtt-password), or give --password-file"
        ) from None

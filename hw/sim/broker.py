"""Brokers for simulated stores: a real Mosquitto started with a site's generated config on a
free loopback port, or, where Mosquitto is not installed, the pure-Python amqtt in process
(anonymous on loopback, no ACLs: signatures still protect the journal)."""

import asyncio
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Protocol, Self

from edge.protocol.filemodes import PRIVATE_FILE
from gateway.provisioning.broker_config import current_user, site_bridge, write_broker_config
from gateway.provisioning.site import Site
from gateway.registry import load_registry
from upstream.home import UpstreamHome
from upstream.provision import write_upstream_broker_config

log = logging.getLogger(__name__)


class Broker(Protocol):
    host: str
    port: int
    kind: str

    def stop(self) -> None: ...


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def find_mosquitto() -> str | None:
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if os.access("/usr/sbin/mosquitto", os.X_OK) else None


def wait_for_port(host: str, port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout_s} s") from None
            time.sleep(0.05)


class MosquittoBroker:
    """Mosquitto as a child process; it can be stopped and started again on the same port and data."""

    kind = "mosquitto"

    def __init__(self, site: Site, port: int, binary: str) -> None:
        self._site = site
        self._prepare(site.broker, port, binary)

    def _prepare(self, directory: Path, port: int, binary: str) -> None:
        self.host = "127.0.0.1"
        self.port = port
        self._binary = binary
        self._write_config()
        self.config = directory / "mosquitto.conf"
        self.log_path = directory / "mosquitto.log"
        self.process: subprocess.Popen[bytes] | None = None

    def _write_config(self) -> None:
        site = self._site
        write_broker_config(
            site.broker, load_registry(site.registry), self.port, self.host, current_user(), site_bridge(site)
        )

    def reload(self) -> None:
        """Rewrite passwords and ACL from the registry and have the running broker reread them (SIGHUP)."""
        self._write_config()
        assert self.process is not None
        self.process.send_signal(signal.SIGHUP)

    def start(self) -> Self:
        # private, like everything beside it
        log_fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE)
        with os.fdopen(log_fd, "ab") as log_file:
            self.process = subprocess.Popen([self._binary, "-c", str(self.config)], stdout=log_file, stderr=log_file)
        try:
            wait_for_port(self.host, self.port, 10)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"mosquitto did not start; see {self.log_path}") from None
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """SIGTERM is a clean stop (Mosquitto saves its persistence file); SIGKILL is a crash."""
        if self.process is None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


class UpstreamMosquitto(MosquittoBroker):
    """The reference upstream's own broker, on the port its upstream.toml names."""

    def __init__(self, home: UpstreamHome, port: int, binary: str) -> None:
        self._home = home
        self._prepare(home.broker, port, binary)

    def _write_config(self) -> None:
        write_upstream_broker_config(self._home, self.host, current_user())


class AmqttBroker:
    kind = "amqtt"

    def __init__(self, port: int) -> None:
        self.host = "127.0.0.1"
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="amqtt", daemon=True)
        self._broker: object | None = None

    def start(self) -> "AmqttBroker":
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("amqtt did not start")
        wait_for_port(self.host, self.port, 10)
        return self

    def _serve(self) -> None:
        from amqtt.broker import Broker as AmqttCore

        asyncio.set_event_loop(self._loop)
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }

        async def run() -> None:
            broker = AmqttCore(config)
            await broker.start()
            self._broker = broker
            self._ready.set()

        self._loop.run_until_complete(run())
        self._loop.run_forever()

    def stop(self) -> None:
        broker = self._broker
        if broker is None:
            return
        future = asyncio.run_coroutine_threadsafe(broker.shutdown(), self._loop)  # type: ignore[attr-defined]
        future.result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._broker = None


def start_broker(site: Site, port: int, allow_amqtt: bool) -> MosquittoBroker | AmqttBroker:
    binary = find_mosquitto()
    if binary is not None:
        return MosquittoBroker(site, port, binary).start()
    if not allow_amqtt:
        raise RuntimeError("Mosquitto is not installed: sudo apt-get install mosquitto")
    log.warning("Mosquitto is not installed; using amqtt in process (anonymous on loopback, no ACLs)")
    return AmqttBroker(port).start()

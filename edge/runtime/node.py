"""A running node: stamps and signs what its role emits, spools it, and keeps the link,
availability, health, command intake and the diagnostics console going. Role apps build on
`Node.emit`, `Node.on_command` and `Node.diag`, and run until `Node.stopping` is set."""

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Literal, TypeVar

import msgspec
import paho.mqtt.client as mqtt

from edge.protocol.clock import wall_ms
from edge.protocol.configfile import read_password, resolve
from edge.protocol.envelope import seal
from edge.protocol.errors import ProtocolError, Reason
from edge.protocol.keys import load_signing_key, load_verify_key
from edge.protocol.messages import (
    UNSEQUENCED_TYPES,
    UNSTAMPED,
    Health,
    Message,
    State,
    decode_message,
    encode_message,
)
from edge.protocol.roles import may_send
from edge.protocol.topics import cmd_topic, event_topic, gateway_state_topic, state_topic
from edge.runtime.boot_ask import BootAsk
from edge.runtime.bootstate import BootState, BootStateError, BootStateFile
from edge.runtime.commands import Command, CommandGuard
from edge.runtime.config import ConsoleConfig, NodeConfig
from edge.runtime.console import DiagConsole, PinFailures
from edge.runtime.diag import ConsoleSession, DiagCommands
from edge.runtime.health import read_soc_temp_c10
from edge.runtime.link import BrokerAddress, MqttLink, Retained
from edge.runtime.log_ring import LogRing
from edge.runtime.node_diag import common_commands
from edge.runtime.service_mode import ServiceMode, pin_matches
from edge.runtime.spool import Spool
from edge.runtime.systemd import ServiceManager

log = logging.getLogger(__name__)

M = TypeVar("M", bound=Message)


class Node:
    def __init__(self, config: NodeConfig, base: Path, clock: Callable[[], int] = wall_ms) -> None:
        self.config = config
        self.base = base
        self._clock = clock
        self._started_ms = clock()
        self._key = load_signing_key(resolve(base, config.keys.device))
        self.public_key = bytes(self._key.verify_key)
        gateway_key = load_verify_key(resolve(base, config.keys.gateway))
        password = read_password(base, config.broker.password_file)
        state_dir = resolve(base, config.state_dir)
        self._boot_file = BootStateFile(state_dir / "boot.json")
        stored = self._boot_file.read()
        self.boot = 0  # until `start` has settled it with the gateway
        self.counters: Counter[str] = Counter()
        self.spool = Spool(state_dir / "spool.db", config.spool.sync)
        if self.spool.quarantined is not None:
            self.counters["spool_quarantined"] = 1
        self._guard = CommandGuard(
            config.store, config.node, config.gateway.id, gateway_key, (stored.command_boot, stored.command_seq)
        )
        self._handlers: dict[str, Callable[[Command], None]] = {}
        self._seq = 0
        self._emit_lock = threading.Lock()
        self._stop = threading.Event()
        self.stopping = threading.Event()  # set to end the role app: a signal, or the console's reboot
        self.restart_requested = False
        self._log_ring = LogRing()
        self.diag = DiagCommands()
        self.diag.add(*common_commands(self, self._log_ring))
        self.console = None if config.console is None else self._console(config.console, state_dir)
        self._health_thread = threading.Thread(target=self._health_loop, name="health", daemon=True)
        self._service = ServiceManager()
        self._beat = time.monotonic()
        self._watchdog_thread = threading.Thread(target=self._watchdog_loop, name="watchdog", daemon=True)
        self._broker = BrokerAddress(
            config.broker.host,
            config.broker.port,
            config.node,
            password,
            config.broker.keepalive_s,
            config.broker.reconnect_min_s,
            config.broker.reconnect_max_s,
        )
        self.link = MqttLink(
            self._broker,
            self.spool,
            config.spool.max_inflight,
            will=lambda: self._state("offline"),
            online=lambda: self._state("online"),
            on_message=self._command_arrived,
            gateway_state_topic=gateway_state_topic(config.store),
        )

    def _console(self, config: ConsoleConfig, state_dir: Path) -> DiagConsole:
        hash_path = resolve(self.base, config.pin_hash)
        try:
            stored = hash_path.read_bytes().strip()
        except OSError as error:
            stored = b""
            log.warning("no service PIN at %s (%s): the console has no service mode", hash_path, error.strerror)
        if stored and not stored.startswith(b"$argon2id$"):
            log.error("%s is not an Argon2id PIN hash: the console has no service mode", hash_path)
            stored = b""
        service = ServiceMode((lambda pin: pin_matches(stored, pin)) if stored else None)
        session = ConsoleSession(self.diag, service)
        return DiagConsole(config.port, config.baud, session, PinFailures(state_dir / "console.json"), self.counters)

    def start(self) -> bool:
        """Settle this start's boot with the gateway, then connect and run. False if stopped
        before a node without boot state heard from the gateway: nothing that stamps runs
        then, and `stop` is all there is left to call. The console answers meanwhile."""
        logging.getLogger().addHandler(self._log_ring)
        if self.console is not None:
            self.console.start()
        self._service.ready(f"{self.config.role} node {self.config.node}, asking the gateway for its boot")
        if not self._settle_boot():
            return False
        self.beat()  # the watchdog's period for the app's first pass starts now, not before the wait
        self.link.start()
        self._health_thread.start()
        if self._service.watchdog_s is not None:
            self._watchdog_thread.start()
        self._service.notify(f"STATUS={self.config.role} node {self.config.node}, boot {self.boot}")
        log.info("node %s (%s) boot %d started", self.config.node, self.config.role, self.boot)
        return True

    def _settle_boot(self) -> bool:
        """Take a boot past both the stored one and the newest the gateway journaled from this
        node, and persist it, before anything is stamped (DESIGN section 5): a new card has no
        boot state, and a restored one an old count. Without boot state the node waits for the
        gateway however long; with it, `[boot] gateway_wait_s`, so that a store whose gateway
        is down still runs."""
        has_state = self._boot_file.exists()
        wait_s = self.config.boot.gateway_wait_s if has_state else None
        if not has_state:
            log.info("no boot state: waiting for the gateway to say which boot this node is past")
        config = self.config
        ask = BootAsk(self._broker, config.store, config.node, self._key, self._guard, self.counters, self._clock)
        tick = self._service.watchdog if self._service.watchdog_s is not None else (lambda: None)
        last = ask.ask(wait_s, self.stopping, tick)
        if self.stopping.is_set():
            return False
        if last is None:
            self.counters["boot_unconfirmed"] = 1
            log.warning(
                "the gateway did not answer in %s s: starting on this card's own boot count; if the card "
                "holds an older image than the node last ran, the gateway refuses its events as boot_reused",
                wait_s,
            )
        self.boot = self._boot_file.next_boot(last or 0).boot
        return True

    def beat(self) -> None:
        """The role app's main loop is turning: called once per pass, it keeps the service
        manager's watchdog from restarting a node whose app has hung."""
        self._beat = time.monotonic()

    def in_service(self) -> bool:
        """A technician is in service mode on the console: test weights and relay pulses are
        theirs, not shoppers'."""
        return self.console is not None and self.console.in_service()

    def restart(self) -> None:
        """Stop the role app and have storenode start afresh, as a new boot."""
        self.restart_requested = True
        self.stopping.set()

    def now(self) -> int:
        """The node's clock, in ms."""
        return self._clock()

    @property
    def made(self) -> int:
        """Events stamped in this boot (every seq used), health and telemetry included."""
        return self._seq

    def stop(self, drain_s: float = 3.0) -> int:
        """Stop cleanly: give the spool up to `drain_s` to empty while events can leave (what
        cannot leave stays spooled for the next start), then announce `stopped`. Returns how
        many events are left in the spool."""
        self._stop.set()
        self._service.stopping()
        if self.boot:  # else `start` never got as far as the link
            deadline = time.monotonic() + drain_s
            while self.spool.depth() and self.link.sending and time.monotonic() < deadline:
                time.sleep(0.05)
            self.link.stop(self._state("stopped"))
        if self.console is not None:
            self.console.stop()
        left = self.spool.depth()
        self.spool.close()
        logging.getLogger().removeHandler(self._log_ring)
        return left

    def on_command(self, name: str, handler: Callable[[Command], None]) -> None:
        """Obey command `name` with `handler` from now on. Only now is its topic subscribed: a
        command that came before its handler would be checked, taken as seen and dropped."""
        self._handlers[name] = handler
        self.link.subscribe(cmd_topic(self.config.store, self.config.node, name))

    def emit(self, message: M, ts: int | None = None) -> M:
        """Stamp the header, check the message against the schema, sign it and spool it. The
        header's ts is now, or `ts` for a message about an earlier instant (a presence frame)."""
        if not may_send(self.config.role, message.type) or message.type in UNSEQUENCED_TYPES:
            raise ValueError(f"role {self.config.role} may not emit {message.type}")
        if not self.boot:
            raise RuntimeError("nothing is stamped before `start` has settled the boot")
        with self._emit_lock:
            stamped = msgspec.structs.replace(
                message, dev=self.config.node, boot=self.boot, seq=self._seq + 1, ts=self._clock() if ts is None else ts
            )
            data = encode_message(stamped)
            try:
                decode_message(data)
            except ProtocolError as error:
                raise ValueError(f"refusing to send an invalid {message.type}: {error}") from None
            self.spool.append(event_topic(self.config.store, self.config.node, message.type), seal(self._key, data))
            self._seq += 1
        self.link.wake()
        return stamped

    def _state(self, state: Literal["online", "stopped", "offline"]) -> Retained:
        message = State(v=1, dev=self.config.node, boot=self.boot, seq=0, ts=self._clock(), state=state)
        return Retained(state_topic(self.config.store, self.config.node), seal(self._key, encode_message(message)))

    def health(self) -> Health:
        return Health(
            **UNSTAMPED,
            uptime_s=(self._clock() - self._started_ms) // 1000,
            spool=self.spool.depth(),
            temp_c10=read_soc_temp_c10(),
            counters=dict(self.counters),
        )

    def _health_loop(self) -> None:
        while not self._stop.wait(self.config.health.interval_s):
            try:
                self.emit(self.health())
            except Exception:
                self.counters["health_failed"] += 1
                log.exception("health could not be sent; trying again next interval")

    def _watchdog_loop(self) -> None:
        """Ping while the app beats and the health loop lives; silence lets systemd restart us."""
        period = self._service.watchdog_s
        assert period is not None
        while not self._stop.wait(period / 3):
            if time.monotonic() - self._beat < period and self._health_thread.is_alive():
                self._service.watchdog()
            else:
                log.error("the %s app has not turned for %.0f s: no watchdog ping", self.config.role, period)

    def _command_arrived(self, message: mqtt.MQTTMessage) -> None:
        """Runs on paho's network thread: nothing may escape, or that thread dies and the link with it."""
        if not message.payload:
            return  # the gateway clearing a retained command: nothing to obey, nothing wrong
        try:
            command = self._guard.check(message.topic, bytes(message.payload), bool(message.retain), self._clock())
        except ProtocolError as error:
            self.counters[f"cmd_rejected_{error.reason}"] += 1
            log.warning("command refused: %s", error)
            return
        except Exception:
            self.counters[f"cmd_rejected_{Reason.INTERNAL_ERROR}"] += 1
            log.exception("command on %s refused after an unexpected failure", message.topic)
            return
        self.counters["cmd_accepted"] += 1
        try:
            current = self._boot_file.read()
            self._boot_file.write(BootState(current.boot, command.boot, command.seq))
        except (OSError, BootStateError):
            # Obeyed all the same: the TTL still bounds a replay after a restart.
            self.counters["cmd_unpersisted"] += 1
            log.exception("could not persist the newest command")
        try:
            self._handlers[command.type](command)  # subscribed only once its handler was there
        except Exception:
            self.counters["cmd_handler_failed"] += 1
            log.exception("the %s handler failed", command.type)

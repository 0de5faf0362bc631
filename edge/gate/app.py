"""The gate controller's app: credentials in, `palm` and `qr` events out; the gateway's
`open` and `deny` commands into the turnstile; the relay, `passage` events and alarms out.

Everything that happens at the gate (pin changes, scans, palm captures, commands) arrives in
one inbox and is handled on this thread in order, so the turnstile never sees two things at
once. The loop wakes for the turnstile's own deadlines (the end of a relay pulse, of a
grant) and at least every PET_S to pet the watchdog.

A palm capture is encoded here; one too blurred is refused with a request to try again,
and one that looks like a print or a screen is refused outright. Neither leaves the gate.
Otherwise the template is sealed to upstream's key and sent, and the capture's and the
template's buffers are zeroed at once: nothing of a palm is kept or written anywhere.
"""

import logging
import queue
import secrets
import threading
from collections.abc import Callable
from typing import Any

from nacl.public import PublicKey

from edge.gate.diag import RelayTest, gate_commands
from edge.gate.io import GateIo, open_gate_io
from edge.gate.palm import PalmEncoder
from edge.gate.palm_sensor import PalmCapture
from edge.gate.passage import PassageDecoder
from edge.gate.pins import PinChange
from edge.gate.qr_reader import Scanned
from edge.gate.turnstile import Alarm, Crossing, Feedback, Output, Relay, Turnstile
from edge.gate.watchdog import open_watchdog
from edge.protocol.configfile import ConfigError, resolve
from edge.protocol.keys import load_public_key
from edge.protocol.messages import UNSTAMPED, Deny, Open, Palm, Passage, Qr
from edge.protocol.messages import Alarm as AlarmEvent
from edge.protocol.sealed import PalmPayload, seal
from edge.runtime.config import GateConfig
from edge.runtime.node import Node

log = logging.getLogger(__name__)

PET_S = 0.2


class GateApp:
    def __init__(
        self, node: Node, config: GateConfig, io: GateIo, inbox: "queue.Queue[Any]", upstream: PublicKey
    ) -> None:
        self.node = node
        self.config = config
        self.io = io
        self.inbox = inbox
        self.turnstile = Turnstile(config)
        self._name = config.name or node.config.node
        self._upstream = upstream
        self._encoder = PalmEncoder()
        self._passage = PassageDecoder()
        node.on_command("open", inbox.put)
        node.on_command("deny", inbox.put)
        node.diag.add(*gate_commands(self))

    def run(self, stopping: threading.Event) -> None:
        watchdog = open_watchdog(self.config.watchdog)
        try:
            self._act(self.turnstile.start())
            if self.io.pins.active("fire"):
                self._act(self.turnstile.fire_alarm(self.node.now(), True))
            while not stopping.is_set():
                self.node.beat()
                wake = self.turnstile.next_wakeup()
                wait_s = PET_S if wake is None else min(PET_S, max(0.0, (wake - self.node.now()) / 1000))
                try:
                    item = self.inbox.get(timeout=wait_s)
                except queue.Empty:
                    item = None
                if item is not None:
                    self._act(self._handle(item))
                self._act(self.turnstile.tick(self.node.now()))
                self._count()
                watchdog.pet()
        finally:
            watchdog.close()

    def _count(self) -> None:
        """Copy the turnstile's and the QR reader's counts into the node's health counters."""
        for name, count in self.turnstile.counters.items():
            self.node.counters[name] = count
        if self.io.qr is not None:
            stats = self.io.qr.stats
            self.node.counters["qr_scans"] = stats.scans
            self.node.counters["qr_misreads"] = stats.misreads
            self.node.counters["qr_port_missing"] = stats.missing

    def _handle(self, item: object) -> list[Output]:
        now = self.node.now()
        match item:
            case Open(req=req):
                return self.turnstile.open(now, req)
            case Deny(req=req, reason=reason):
                return self.turnstile.deny(now, req, reason)
            case PinChange(name="fire", active=active, t=t):
                return self.turnstile.fire_alarm(t, active)
            case PinChange(name=beam, active=blocked, t=t):
                crossed = self._passage.beam(t, beam, blocked)  # type: ignore[arg-type]
                out = self.turnstile.blocked(t, self._passage.occupied)
                return out + (self.turnstile.passage(crossed.t, crossed.dir) if crossed else [])
            case Scanned(t=t, token=token):
                return self._credential(t, lambda req: Qr(**UNSTAMPED, req=req, token=token))
            case PalmCapture():
                return self._palm(item)
            case RelayTest(taken=taken):
                if not taken.set_running_or_notify_cancel():  # the console gave up waiting
                    return []
                out = self.turnstile.relay_test(now)
                taken.set_result(bool(out))
                return out
        raise TypeError(f"the gate cannot handle {item!r}")

    def _palm(self, captured: PalmCapture) -> list[Output]:
        try:
            code = self._encoder.encode(captured.roi)
        except ValueError:
            self.node.counters["palm_unreadable"] += 1
            return [Feedback("denied", "unreadable")]
        finally:
            captured.roi.fill(0)
        try:
            if code.quality_pm < self.config.min_quality_pm:
                self.node.counters["palm_retry"] += 1
                return [Feedback("denied", "try_again")]
            if code.live_pm < self.config.min_live_pm:
                self.node.counters["palm_not_live"] += 1
                return [Feedback("denied", "not_live")]
            return self._credential(
                captured.t,
                lambda req: Palm(
                    **UNSTAMPED,
                    req=req,
                    purpose="entry",
                    sealed=seal(PalmPayload([code.template.to_bytes()]), self._upstream),
                    quality_pm=code.quality_pm,
                    live_pm=code.live_pm,
                ),
            )
        finally:
            code.template.planes.fill(0)

    def _credential(self, t: int, event: Callable[[str], Palm | Qr]) -> list[Output]:
        """A credential presented at t: if the turnstile takes it, it is sent as `event` of a
        fresh random request id (made only then, so a busy gate seals nothing)."""
        req = secrets.token_urlsafe(12)
        out = self.turnstile.credential(t, req)
        if Feedback("authorising") in out:
            self.node.emit(event(req))
        return out

    def _act(self, outputs: list[Output]) -> None:
        for output in outputs:
            match output:
                case Relay(energised=energised):
                    self.io.pins.relay(energised)
                case Crossing(dir=direction, t=t, grant=grant):
                    self.node.emit(
                        Passage(
                            **UNSTAMPED,
                            gate=self._name,
                            dir=direction,
                            t=t,
                            grant=grant,
                            x_mm=self.config.x_mm,
                            y_mm=self.config.y_mm,
                        )
                    )
                case Alarm(kind=kind, t=t):
                    log.warning("gate %s: %s", self._name, kind.replace("_", " "))
                    self.node.emit(AlarmEvent(**UNSTAMPED, gate=self._name, kind=kind, t=t))
                case Feedback(kind=kind, reason=reason):
                    log.info("gate %s: %s %s", self._name, kind, reason)
                    self.io.indicate(output)


def run_gate(node: Node, stopping: threading.Event) -> None:
    config = node.config.gate
    if config is None:
        raise ConfigError("a gate node needs a [gate] table")
    if node.config.keys.upstream_seal is None:
        raise ConfigError("a gate needs [keys] upstream_seal: upstream's public key that palm templates are sealed to")
    upstream = load_public_key(resolve(node.base, node.config.keys.upstream_seal))
    inbox: queue.Queue[Any] = queue.Queue()
    hardware = node.config.hardware
    drive = None if hardware.drive is None else resolve(node.base, hardware.drive)
    io = open_gate_io(config, hardware.backend, node.now, inbox.put, drive)
    try:
        GateApp(node, config, io, inbox, upstream).run(stopping)
    finally:
        io.close()

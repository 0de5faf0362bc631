"""The journal process: it owns the journal and the ingest core, takes batches of received
messages over a pipe, and answers each batch once it is committed.

Verification and journaling run here, in their own process, so that they use a core of
their own instead of sharing one interpreter lock with the MQTT network thread.
"""

import logging
import signal
import time
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Final

from edge.protocol.clock import wall_ms
from edge.protocol.configfile import ConfigError, resolve
from edge.protocol.keys import load_signing_key, load_verify_key
from edge.protocol.messages import AnyMessage
from gateway.assigned import Assignments
from gateway.config import GatewayConfig
from gateway.fusion.model import FusionOutput
from gateway.fusion.replay import Observer
from gateway.ingest import BatchResult, BootAsked, Incoming, IngestCore
from gateway.journal import Journal, Outgoing
from gateway.layout import load_layout
from gateway.live_fusion import ErrorHandler, LiveFusion, journal_entries, log_error
from gateway.operator.alerts import Alert
from gateway.operator.view import OperatorView, Summary
from gateway.registry import Registry, load_registry
from gateway.verify import UpstreamSender, Verifier

log = logging.getLogger(__name__)

# What travels to the worker: (topic, payload, recv_ms) per message; tuples pickle fastest.
Wire = tuple[str, bytes, int, bool]  # topic, payload, recv_ms, retained


@dataclass(frozen=True, slots=True)
class RejectNote:
    reason: str
    dev: str
    detail: str
    recv_ms: int


# What the service's access control acts on, once journaled.
ACCESS_TYPES: Final = frozenset({"palm", "qr", "passage", "decision"})


@dataclass(frozen=True, slots=True)
class ViewReport:
    """What changed in the operator view: retained topics to publish, alerts, the figures
    for the gateway's status. Sent with each batch, and on its own once a second while no
    batch comes (silence is news too)."""

    retained: dict[str, bytes]
    alerts: list[Alert]
    summary: Summary

    @classmethod
    def of(cls, view: OperatorView, now_ms: int) -> "ViewReport":
        changes = view.take(now_ms)
        return cls(changes.retained, changes.alerts, view.summary(now_ms))


@dataclass(frozen=True, slots=True)
class BatchReport:
    """What the service needs back: counts for its status, rejects for its alerts, the
    messages its access control acts on, what was queued for upstream, the view's changes,
    and the nodes' hellos to answer (the service signs commands; the newest boots are here)."""

    batch_id: int
    accepted: int
    duplicates: int
    rejected: list[RejectNote]
    access: list[AnyMessage]
    outbox: list[Outgoing]
    view: ViewReport
    asked: list[BootAsked]

    @classmethod
    def of(cls, batch_id: int, result: BatchResult, view: ViewReport) -> "BatchReport":
        notes = [RejectNote(str(r.error.reason), r.dev, r.error.detail, r.incoming.recv_ms) for r in result.rejected]
        access = [v.message for v in result.accepted if v.message.type in ACCESS_TYPES]
        return cls(batch_id, len(result.accepted), result.duplicates, notes, access, result.outbox, view, result.asked)


@dataclass(frozen=True, slots=True)
class Ready:
    """The journal is replayed: the whole operator view as it stands (its alerts are history)."""

    view: ViewReport


class RegistryWatch:
    """The registry as it is on disk now: provisioning a node must not need a gateway restart,
    or that node's first events would be refused as unknown. Provisioning replaces the file
    atomically, so a changed modification time means a complete new registry."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._seen = -1

    def _mtime(self) -> int:
        try:
            return self._path.stat().st_mtime_ns
        except OSError:
            return self._seen

    def load(self) -> Registry:
        self._seen = self._mtime()
        return load_registry(self._path)

    def changed(self) -> Registry | None:
        """The new registry if the file changed since it was last read; None otherwise, or if
        the new file is unreadable (the previous registry stays in force)."""
        if self._mtime() == self._seen:
            return None
        try:
            registry = self.load()
        except ConfigError as error:
            log.error("registry changed but cannot be read; keeping the previous one: %s", error)
            return None
        log.info("registry reloaded: %d devices", len(registry.devices))
        return registry


def _what(message: AnyMessage, error: Exception) -> str:
    return f"{message.type} {message.dev} {message.boot}/{message.seq}: {error!r}"[:300]


def guarded(view: OperatorView) -> Observer:
    """The view's observer, isolated: a message it fails on is journaled and acknowledged
    all the same (DESIGN section 5), and the failure counted and alerted."""

    def observe(message: AnyMessage, recv_ms: int, outputs: list[FusionOutput]) -> None:
        try:
            view.observe(message, recv_ms, outputs)
        except Exception as error:
            log.exception("the operator view failed on %s %s", message.type, message.dev)
            view.fail(recv_ms, "view_error", message.dev, _what(message, error))

    return observe


def fusion_failed(view: OperatorView) -> ErrorHandler:
    def failed(message: AnyMessage, recv_ms: int, error: Exception) -> None:
        log_error(message, recv_ms, error)
        view.fail(recv_ms, "fusion_error", message.dev, _what(message, error))

    return failed


def view_report(view: OperatorView, now_ms: int, last: Summary, gateway_id: str) -> ViewReport:
    """The view's changes; if the view fails, none this time (the journal and its acks go
    on), the last figures, and an alert."""
    try:
        return ViewReport.of(view, now_ms)
    except Exception as error:
        log.exception("the operator view failed to make its topics")
        view.failed["view_error"] += 1
        alert = Alert(now_ms, "derived_failed", "view_error", gateway_id, repr(error)[:300])
        return ViewReport({}, [alert], replace(last, derived_failed=dict(view.failed)))


def upstream_sender(config: GatewayConfig, base: Path) -> UpstreamSender:
    upstream_id = config.upstream.id if config.upstream is not None else "upstream"
    return UpstreamSender(upstream_id, load_verify_key(resolve(base, config.keys.upstream_sign)))


def commit_with_retry(core: IngestCore, batch: list[Incoming]) -> BatchResult:
    """Process a batch until its commit succeeds: nothing is acknowledged before that."""
    pause = 0.5
    while True:
        try:
            return core.process(batch)
        except Exception:
            log.exception("journal commit failed; retrying in %.1f s with nothing acknowledged", pause)
            time.sleep(pause)
            pause = min(pause * 2, 30.0)


def roles(registry: Registry) -> dict[str, str]:
    return {node: str(device.role) for node, device in registry.devices.items()}


def serve(config: GatewayConfig, base: Path, boot: int, pipe: Connection) -> None:
    """The worker's main: runs until the service sends None or goes away. Receipts the
    journal's replay issues are in the outbox before it answers `Ready`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    journal = Journal(resolve(base, config.journal), config.ingest.journal_sync)
    registry = RegistryWatch(resolve(base, config.registry))
    upstream = upstream_sender(config, base)
    forward = frozenset({"palm"}) if config.upstream is not None else frozenset()
    devices = registry.load()
    layout = load_layout(resolve(base, config.layout)) if config.layout is not None else None  # checked by the service
    assignments = Assignments.of(layout)
    core = IngestCore(Verifier(devices, upstream, assignments), journal, config.ingest.dedupe_window, forward)
    marks = journal.marks_generation()
    fusion = None
    if layout is not None:
        key = load_signing_key(resolve(base, config.keys.gateway))
        fusion = LiveFusion(layout, journal, config.id, boot, key)
    engine = fusion.engine if fusion is not None else None
    view = OperatorView(config.store, roles(devices), layout, engine, config.operator, wall_ms())
    observe = guarded(view)
    if fusion is not None:
        fusion.observe = observe
        fusion.on_error = fusion_failed(view)
        fusion.catch_up(wall_ms())
    else:
        for message, recv_ms in journal_entries(journal):
            observe(message, recv_ms, [])
    ready = view_report(view, wall_ms(), Summary(0, 0, 0, 0), config.id)
    pipe.send(Ready(ready))
    summary = ready.summary
    try:
        while True:
            if not pipe.poll(1.0):
                idle = view_report(view, wall_ms(), summary, config.id)
                if idle.retained or idle.alerts or idle.summary != summary:
                    pipe.send(idle)
                    summary = idle.summary
                continue
            try:
                item = pipe.recv()
            except EOFError:
                return
            if item is None:
                return
            batch_id, wire = item
            if journal.marks_generation() != marks:
                marks = journal.marks_generation()
                core.reload_marks()
                log.info("a device's marks were reset; sequence marks reread from the journal")
            changed = registry.changed()
            if changed is not None:
                core.use(Verifier(changed, upstream, assignments))
                view.use_devices(roles(changed))
            result = commit_with_retry(core, [Incoming(*received) for received in wire])
            if fusion is not None:
                result.outbox += fusion.committed(result.journaled, wall_ms())
            else:
                for message, recv_ms in result.journaled:
                    observe(message, recv_ms, [])
            report = BatchReport.of(batch_id, result, view_report(view, wall_ms(), summary, config.id))
            summary = report.view.summary
            pipe.send(report)
    finally:
        journal.close()

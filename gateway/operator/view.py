"""The operator view: what the dashboard topics should hold, built from the journal's
messages and the fusion engine's outputs, and the alerts their changes raise.

Pure: messages, outputs and the time come in; the retained topics that changed (an empty
payload clears one) and the alerts raised since the last call go out. The view is rebuilt
by the same replay that rebuilds the engine, so after a gateway restart it holds exactly
what it held before, and `take` after the replay gives the whole set to publish.

Bounded (DESIGN section 5): a device's messages are verified, but what they may name
(1,024 lanes of any shelf) is far more than a dashboard needs, and a retained message the
broker finds over its `max_packet_size` makes it drop the gateway on every connect. So
the view holds at most MAX_LANES lanes per shelf and MAX_SHELVES shelves besides the
layout's, shows at most MAX_SESSIONS sessions, and never hands out a payload over
MAX_RETAINED_BYTES; whatever it leaves out is counted (`Summary.derived_failed`) and
raised as a `derived_failed` alert. The layout's own shelves and lanes always have room.
"""

import itertools
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

import msgspec

from edge.protocol.messages import Alarm, AnyMessage, Health, State, Telemetry, Weight
from edge.protocol.topics import gateway_device_topic, gateway_session_topic, gateway_shelf_topic
from gateway.config import OperatorConfig
from gateway.fusion.engine import MAX_INSIDE, MAX_UNGRANTED_INSIDE, FusionEngine
from gateway.fusion.model import FusedReceipt, FusionOutput, ReceiptFinal
from gateway.layout import StoreLayout
from gateway.operator.alerts import Alert
from gateway.operator.discovery import discovery_messages
from gateway.operator.model import DeviceAvailability, DeviceHealth, DeviceView, LaneView, SessionView, ShelfView

CLEARED = b""  # a retained message with no payload removes the topic's retained message

# A shelf has a few lanes per load cell board; 64 lanes make a discovery message of about
# 45 KB. The generated broker config's max_packet_size (gateway/provisioning/broker_config.py)
# leaves room above MAX_RETAINED_BYTES for the topic and the packet's header.
MAX_LANES: Final = 64
MAX_SHELVES: Final = 64  # shelves that reported weights but are not in the layout
MAX_SESSIONS: Final = 256
MAX_RETAINED_BYTES: Final = 64 * 1024
# Alerts wait here for the next take; a take that keeps failing (the worker counts it and
# goes on) must not let every failure it counts meanwhile pile up. Past this many, an alert
# is only counted, and the next take that succeeds says how many were left out.
MAX_ALERTS: Final = 256


@dataclass(frozen=True, slots=True)
class Changes:
    retained: dict[str, bytes]  # topic: payload, CLEARED to remove it
    alerts: list[Alert]


@dataclass(frozen=True, slots=True)
class Summary:
    """The figures the gateway's own `state` carries."""

    devices_online: int
    devices_total: int
    sessions_open: int
    review_queue: int
    derived_failed: dict[str, int] = field(default_factory=dict)  # what the view left out, by why


@dataclass
class _Device:
    role: str
    state: str | None = None  # as its last `state` message said
    last_seen_ms: int | None = None
    boot: int | None = None
    health: Health | None = None
    alerts: set[str] = field(default_factory=set)


class OperatorView:
    def __init__(
        self,
        store: str,
        devices: Mapping[str, str],
        layout: StoreLayout | None,
        engine: FusionEngine | None,
        config: OperatorConfig,
        started_ms: int,
    ) -> None:
        """`devices`: node id to role, from the registry; `started_ms`: silence is counted
        from no earlier than this, so a restart does not find every node silent."""
        self._store = store
        self._layout = layout
        self._engine = engine
        self._config = config
        self._started_ms = started_ms
        self._devices: dict[str, _Device] = {}
        self.use_devices(devices)
        self._planned: dict[str, frozenset[int]] = (
            {shelf.shelf: frozenset(slot.lane for slot in shelf.lanes) for shelf in layout.shelves}
            if layout is not None
            else {}
        )
        self._weights: dict[str, dict[int, int]] = {}  # shelf: lane: mg as last reported
        self._shelf_seen: dict[str, int] = {}  # shelf: when it last reported a weight
        self._unplanned = 0  # shelves in _weights that the layout does not have
        self.failed: Counter[str] = Counter()  # what was left out or failed, by reason
        self._oversize: set[str] = set()  # topics whose payload is withheld for its size
        self._sessions_hidden = False
        self._engine_dropped = (0, 0)  # the engine's detections and passages dropped, as last seen
        self._review: dict[str, tuple[FusedReceipt, SessionView]] = {}
        self._alerts: list[Alert] = []
        self._alerts_dropped = 0  # left out at MAX_ALERTS since the last take that succeeded
        self._published: dict[str, bytes] = {}
        self._discovery_made: tuple[object, dict[str, bytes]] | None = None  # (what it was made of, messages)

    def use_devices(self, devices: Mapping[str, str]) -> None:
        """The registry as it is now: new nodes appear as `unknown`, removed ones go."""
        self._devices = {node: self._devices.get(node) or _Device(role) for node, role in devices.items()}

    # -- feeding --------------------------------------------------------------------------

    def observe(self, message: AnyMessage, recv_ms: int, outputs: Iterable[FusionOutput] = ()) -> None:
        """One journaled message, with what the fusion engine made of it."""
        device = self._devices.get(message.dev)
        if device is not None:
            self._heard(device, message, recv_ms)
        match message:
            case Telemetry(shelf=shelf, lanes=lanes):
                self._reported(message.dev, shelf, lanes, recv_ms)
            case Weight(shelf=shelf, lane=lane, after_mg=after):
                self._reported(message.dev, shelf, [(lane, after)], recv_ms)
        for output in outputs:
            if isinstance(output, ReceiptFinal):
                self._finished(output.receipt)

    def _reported(self, dev: str, shelf: str, lanes: list[tuple[int, int]], recv_ms: int) -> None:
        """Lane weights as a shelf node reported them, within the bounds."""
        planned = self._planned.get(shelf, frozenset())
        weights = self._weights.get(shelf)
        if weights is None:
            if not planned and self._unplanned >= MAX_SHELVES:
                detail = f"{dev} reported shelf {shelf}: the view holds {MAX_SHELVES} shelves beside the layout's"
                self.fail(recv_ms, "shelves_dropped", dev, detail)
                return
            weights = self._weights[shelf] = {}
            self._unplanned += not planned
        room = MAX_LANES - len(planned) - sum(1 for lane in weights if lane not in planned)
        dropped = 0
        for lane, mg in lanes:
            if lane in weights or lane in planned:
                weights[lane] = mg
            elif room > 0:
                weights[lane] = mg
                room -= 1
            else:
                dropped += 1
        self._shelf_seen[shelf] = recv_ms
        if dropped:
            detail = f"{dev}: {dropped} lanes of shelf {shelf} left out, a shelf shows at most {MAX_LANES}"
            self.fail(recv_ms, "lanes_dropped", dev, detail, dropped)

    def fail(self, at_ms: int, reason: str, dev: str, detail: str, count: int = 1) -> None:
        """Something derived from a message was left out or failed: counted, and alerted."""
        self.failed[reason] += count
        self._alert(Alert(at_ms, "derived_failed", reason, dev, detail, count))

    def _alert(self, alert: Alert) -> None:
        if len(self._alerts) < MAX_ALERTS:
            self._alerts.append(alert)
        else:
            self._alerts_dropped += 1

    def _heard(self, device: _Device, message: AnyMessage, recv_ms: int) -> None:
        node = message.dev
        was = self._availability(device, recv_ms)
        device.last_seen_ms = recv_ms
        device.boot = message.boot if device.boot is None else max(device.boot, message.boot)
        match message:
            case State(state=state):
                device.state = state
            case Health():
                self._health(node, device, message, recv_ms)
            case Alarm(kind=kind, gate=gate):
                what = "someone passed in with no grant" if kind == "door_forced" else "the passage stayed blocked"
                self._alert(Alert(recv_ms, kind, kind, node, f"gate {gate}: {what}"))
        now = self._availability(device, recv_ms)
        if now in ("offline", "stopped") and was not in ("offline", "stopped"):
            self._raise(node, device, recv_ms, "device_offline", now, f"{node} is {now}")
        elif now == "online" and "device_offline" in device.alerts:
            self._clear(node, device, recv_ms, "device_offline", f"{node} is online again")

    def _health(self, node: str, device: _Device, health: Health, recv_ms: int) -> None:
        before = device.health.spool if device.health is not None else 0
        device.health = health
        threshold = self._config.spool_alert
        if health.spool >= threshold and health.spool > before and "spool_growing" not in device.alerts:
            detail = f"{node} holds {health.spool} unsent events (was {before})"
            self._raise(node, device, recv_ms, "spool_growing", "spool", detail)
        elif health.spool < threshold and "spool_growing" in device.alerts:
            self._clear(node, device, recv_ms, "spool_growing", f"{node} holds {health.spool} unsent events")
        drifted = health.counters.get("lanes_drifted", 0)
        if drifted > 0 and "shelf_drift" not in device.alerts:
            detail = f"{node}: {drifted} lanes drifted past their limit; re-tare them (docs/servicing.md)"
            self._raise(node, device, recv_ms, "shelf_drift", "drift", detail)
        elif drifted == 0 and "shelf_drift" in device.alerts:
            self._clear(node, device, recv_ms, "shelf_drift", f"{node}: no lane drifted")

    def _raise(self, node: str, device: _Device, at_ms: int, kind: str, reason: str, detail: str) -> None:
        device.alerts.add(kind)
        self._alert(Alert(at_ms, kind, reason, node, detail))  # type: ignore[arg-type]

    def _clear(self, node: str, device: _Device, at_ms: int, kind: str, detail: str) -> None:
        device.alerts.discard(kind)
        self._alert(Alert(at_ms, kind, "cleared", node, detail, active=False))  # type: ignore[arg-type]

    def _finished(self, receipt: FusedReceipt) -> None:
        if not receipt.review:
            return
        reasons = [flag.reason for flag in receipt.flags]
        view = SessionView(
            receipt.session, "review", receipt.opened_ms, receipt.closed_ms, 0, 0,
            list(receipt.lines), reasons, receipt.confidence_pm,
        )  # fmt: skip
        self._review[receipt.session] = (receipt, view)
        detail = f"receipt {receipt.session} for review: {', '.join(sorted(set(reasons)))}"
        self._alert(Alert(receipt.final_ms, "review", reasons[0] if reasons else "", receipt.session, detail))

    # -- reading --------------------------------------------------------------------------

    def take(self, now_ms: int) -> Changes:
        """What changed since the last call: retained topics to publish, alerts to send."""
        self._expire(now_ms)
        self._engine_bounds(now_ms)
        devices = self._device_views(now_ms)
        current = self._within_size(self._topics(devices, now_ms), now_ms)
        changed = {topic: payload for topic, payload in current.items() if self._published.get(topic) != payload}
        for topic in self._published.keys() - current.keys():
            changed[topic] = CLEARED
        for node, view in devices.items():
            topic = gateway_device_topic(self._store, node)
            if topic in changed and self._only_seen_moved(self._published.get(topic), view):
                del changed[topic]
        for topic, payload in changed.items():
            if payload == CLEARED:
                self._published.pop(topic, None)
            else:
                self._published[topic] = payload
        alerts, self._alerts = self._alerts, []
        dropped, self._alerts_dropped = self._alerts_dropped, 0
        if dropped:
            self.failed["alerts_dropped"] += dropped
            detail = f"{dropped} alerts left out: the view holds {MAX_ALERTS} until a take succeeds"
            alerts.append(Alert(now_ms, "derived_failed", "alerts_dropped", self._store, detail, dropped))
        return Changes(changed, alerts)

    def _engine_bounds(self, now_ms: int) -> None:
        """What the fusion engine left out at its own bounds since the last take."""
        if self._engine is None:
            return
        stats = self._engine.stats
        dropped = (stats.detections_dropped, stats.passages_dropped)
        detections, passages = (now - before for now, before in zip(dropped, self._engine_dropped, strict=True))
        if detections:
            detail = f"{detections} presence detections left out at the tracker's bounds"
            self.fail(now_ms, "detections_dropped", self._store, detail, detections)
        if passages:
            detail = (
                f"{passages} passages in left out: the fusion engine holds at most {MAX_INSIDE} people inside "
                f"on grants given and {MAX_UNGRANTED_INSIDE} on grants it never saw given"
            )
            self.fail(now_ms, "passages_dropped", self._store, detail, passages)
        self._engine_dropped = dropped

    def snapshot(self, now_ms: int) -> dict[str, bytes]:
        """Every retained topic the view holds now, with its payload."""
        return self._within_size(self._topics(self._device_views(now_ms), now_ms), now_ms)

    def _within_size(self, topics: dict[str, bytes], now_ms: int) -> dict[str, bytes]:
        """A payload over MAX_RETAINED_BYTES is never handed out: the topic keeps what was
        last published (or stays away), and the first take that finds it so alerts."""
        for topic, payload in list(topics.items()):
            if len(payload) <= MAX_RETAINED_BYTES:
                self._oversize.discard(topic)
                continue
            if topic in self._published:
                topics[topic] = self._published[topic]
            else:
                del topics[topic]
            if topic not in self._oversize:
                self._oversize.add(topic)
                detail = f"{topic} would be {len(payload)} bytes, over {MAX_RETAINED_BYTES}: not published"
                self.fail(now_ms, "oversize", self._store, detail)
        return topics

    def _device_views(self, now_ms: int) -> dict[str, DeviceView]:
        return {node: self._device_view(node, device, now_ms) for node, device in self._devices.items()}

    def _topics(self, devices: dict[str, DeviceView], now_ms: int) -> dict[str, bytes]:
        topics = {gateway_device_topic(self._store, node): msgspec.json.encode(view) for node, view in devices.items()}
        shelves = [self._shelf_view(shelf) for shelf in self._shelf_ids()]
        for shelf in shelves:
            topics[gateway_shelf_topic(self._store, shelf.shelf)] = msgspec.json.encode(shelf)
        for session in self._session_views(now_ms):
            topics[gateway_session_topic(self._store, session.session)] = msgspec.json.encode(session)
        roles = tuple((node, device.role) for node, device in self._devices.items())
        lanes = tuple((shelf.shelf, tuple(lane.lane for lane in shelf.lanes)) for shelf in shelves)
        topics.update(self._discovery(roles, lanes))
        return topics

    def _discovery(
        self, roles: tuple[tuple[str, str], ...], lanes: tuple[tuple[str, tuple[int, ...]], ...]
    ) -> dict[str, bytes]:
        """Discovery messages change only with the devices and the shelves' lanes: they are
        built again only then, not on every take."""
        if self._discovery_made is None or self._discovery_made[0] != (roles, lanes):
            messages = discovery_messages(
                self._store, self._config.discovery_prefix, dict(roles), {shelf: list(ids) for shelf, ids in lanes}
            )
            self._discovery_made = ((roles, lanes), messages)
        return self._discovery_made[1]

    def summary(self, now_ms: int) -> Summary:
        online = sum(self._availability(d, now_ms) == "online" for d in self._devices.values())
        sessions = len(self._engine.sessions) if self._engine is not None else 0
        return Summary(online, len(self._devices), sessions, len(self._review), dict(self.failed))

    def _only_seen_moved(self, published: bytes | None, view: DeviceView) -> bool:
        """A device topic whose only change is `last_seen_ms`, republished at most every
        state interval: a node's every message must not become a dashboard message."""
        if published is None or view.last_seen_ms is None:
            return False
        old = msgspec.json.decode(published, type=DeviceView)
        return (
            old.last_seen_ms is not None
            and msgspec.structs.replace(old, last_seen_ms=view.last_seen_ms) == view
            and view.last_seen_ms - old.last_seen_ms < self._config.state_interval_s * 1000
        )

    def _availability(self, device: _Device, now_ms: int) -> DeviceAvailability:
        if device.last_seen_ms is None:
            return "unknown"
        state = device.state or "online"
        if state == "online" and now_ms - max(device.last_seen_ms, self._started_ms) > self._silence_ms:
            return "silent"
        return state  # type: ignore[return-value]

    @property
    def _silence_ms(self) -> int:
        return self._config.silent_after_s * 1000

    def _expire(self, now_ms: int) -> None:
        keep_ms = self._config.review_keep_h * 3_600_000
        for session, (receipt, _) in list(self._review.items()):
            if now_ms - receipt.final_ms > keep_ms:
                del self._review[session]
        for node, device in self._devices.items():
            silent = self._availability(device, now_ms) == "silent"
            if silent and "device_offline" not in device.alerts:
                self._raise(node, device, now_ms, "device_offline", "silent", f"{node} has sent nothing for a while")

    def _device_view(self, node: str, device: _Device, now_ms: int) -> DeviceView:
        health = device.health
        return DeviceView(
            node,
            device.role,
            self._availability(device, now_ms),
            device.last_seen_ms,
            device.boot,
            health.spool if health is not None else None,
            DeviceHealth(health.uptime_s, health.temp_c10, dict(health.counters)) if health is not None else None,
            sorted(device.alerts),
        )

    def _shelf_ids(self) -> list[str]:
        shelves = {shelf.shelf for shelf in self._layout.shelves} if self._layout is not None else set()
        return sorted(shelves | self._shelf_seen.keys())

    def _shelf_view(self, shelf: str) -> ShelfView:
        layout = self._layout.shelf_by_id.get(shelf) if self._layout is not None else None
        planned = {slot.lane: slot.sku for slot in layout.lanes} if layout is not None else {}
        reported = self._weights.get(shelf, {})
        lanes = []
        for lane in sorted(planned.keys() | reported.keys()):
            sku = planned.get(lane)
            weight = reported.get(lane)
            misplaced = self._engine.misplaced_on(shelf, lane) if self._engine is not None else []
            stock = None
            if weight is not None and sku is not None and self._layout is not None:
                unit = self._layout.catalogue[sku].unit_mg
                stock = max(0, round((weight - sum(item.mg for item in misplaced)) / unit))
            lanes.append(LaneView(lane, sku, weight, stock, [item.sku for item in misplaced]))
        return ShelfView(shelf, lanes, self._shelf_seen.get(shelf))

    def _session_views(self, now_ms: int) -> list[SessionView]:
        """The review queue and the engine's sessions, the oldest first, at most MAX_SESSIONS
        (a flood of made-up passages must not push out the shoppers inside)."""
        views = [view for _, view in self._review.values()][:MAX_SESSIONS]
        engine = self._engine
        hidden = len(self._review) + (len(engine.sessions) if engine is not None else 0) > MAX_SESSIONS
        if hidden and not self._sessions_hidden:
            detail = f"more than {MAX_SESSIONS} sessions: only the oldest are shown"
            self.fail(now_ms, "sessions_dropped", self._store, detail)
        self._sessions_hidden = hidden
        if engine is None:
            return views
        for session_id, session in itertools.islice(engine.sessions.items(), MAX_SESSIONS - len(views)):
            receipt = engine.receipt_so_far(session_id)
            if receipt is None:
                continue
            people, inside = engine.people_of(session_id)
            views.append(
                SessionView(
                    session_id, "open" if session.closed_ms is None else "closed", session.opened_ms,
                    session.closed_ms, people, inside, list(receipt.lines),
                    [flag.reason for flag in receipt.flags], receipt.confidence_pm,
                )
            )  # fmt: skip
        return views

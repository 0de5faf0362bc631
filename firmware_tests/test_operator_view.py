"""gateway/operator/view.py: the dashboard topics and alerts a sequence of journaled messages
and fusion outputs makes, with the time given."""

import json
from typing import Any

import msgspec
import pytest

from edge.protocol.messages import Alarm, Health, State, Telemetry
from firmware_tests.fusion_stream import LAYOUT, T0, Stream, shopper
from gateway.config import OperatorConfig
from gateway.fusion.engine import MAX_INSIDE, FusionEngine
from gateway.fusion.model import Flag, FusedReceipt, ReceiptFinal
from gateway.layout import StoreLayout
from gateway.operator.view import (
    CLEARED,
    MAX_ALERTS,
    MAX_LANES,
    MAX_RETAINED_BYTES,
    MAX_SESSIONS,
    MAX_SHELVES,
    OperatorView,
)

DEVICES = {"shelf-01": "shelf", "gate-01": "gate", "camera-01": "camera"}
PREFIX = "store/small/gateway"


def view_of(engine: FusionEngine | None = None, **config: Any) -> OperatorView:
    return OperatorView("small", DEVICES, LAYOUT, engine, OperatorConfig(**config), T0)


def header(dev: str, seq: int, ts: int = T0) -> dict[str, Any]:
    return {"v": 1, "dev": dev, "boot": 1, "seq": seq, "ts": ts}


def health(seq: int, spool: int = 0, **counters: int) -> Health:
    return Health(**header("shelf-01", seq), uptime_s=seq, spool=spool, temp_c10=421, counters=counters)


def state(dev: str, value: str) -> State:
    return State(**header(dev, 0), state=value)  # type: ignore[arg-type]


def decoded(view: OperatorView, now_ms: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    changes = view.take(now_ms)
    retained = {topic: json.loads(p) if p else None for topic, p in changes.retained.items()}
    return retained, [msgspec.to_builtins(alert) for alert in changes.alerts]


def test_the_first_take_holds_every_device_shelf_and_discovery_message() -> None:
    retained, alerts = decoded(view_of(), T0)
    assert retained[f"{PREFIX}/devices/shelf-01"]["availability"] == "unknown"
    assert {t.rsplit("/", 1)[1] for t in retained if "/devices/" in t} == set(DEVICES)
    assert {t.rsplit("/", 1)[1] for t in retained if "/shelves/" in t} == {s.shelf for s in LAYOUT.shelves}
    discovery = {t for t in retained if t.startswith("homeassistant/device/")}
    assert len(discovery) == 1 + len(DEVICES) + len(LAYOUT.shelves)
    assert alerts == []


def test_a_shoppers_session_is_shown_open_with_its_cart_and_cleared_when_its_receipt_is_final() -> None:
    stream = Stream()
    spot = (1050, 3300)  # shelf-01 lane 1: water 1.5 l
    stream.presence([shopper(1_000, [(1050, 2700, 3_000), (*spot, 8_000)], 14_000)], 20_000)
    stream.qr(0, "q1", "acct-ann")
    stream.passage(1_000, "in", "q1")
    stream.reach(5_000, 6_500, "shelf-01", [1], spot, "item")
    stream.weight(5_150, 6_650, "shelf-01", 1, -1_546_000)
    stream.passage(14_000, "out")
    engine = FusionEngine(LAYOUT)
    view = view_of(engine)
    view.take(T0)
    seen: list[dict[str, Any] | None] = []
    for recv, message in sorted(stream.messages, key=lambda item: item[0]):
        view.observe(message, T0 + recv, engine.apply(message, T0 + recv))
        retained, _ = decoded(view, T0 + recv)
        if f"{PREFIX}/sessions/s-q1" in retained:
            seen.append(retained[f"{PREFIX}/sessions/s-q1"])
        shelf = retained.get(f"{PREFIX}/shelves/shelf-01")
        if shelf is not None:
            lane = next(lane for lane in shelf["lanes"] if lane["lane"] == 1)
            assert lane["weight_mg"] == 20_000_000 - 1_546_000
            assert lane["stock"] == round(lane["weight_mg"] / LAYOUT.catalogue["water-1500"].unit_mg)
    assert seen[0] is not None and seen[0]["state"] == "open" and (seen[0]["people"], seen[0]["inside"]) == (1, 1)
    assert "account" not in json.dumps(seen), "sessions are pseudonymous"
    assert any(s is not None and s["lines"] == [["water-1500", 1]] for s in seen)
    assert any(s is not None and s["state"] == "closed" and s["inside"] == 0 for s in seen)
    assert seen[-1] is None, "a receipt that needs no review takes its session off the board"
    assert view.summary(T0 + 30_000).sessions_open == 0


def test_a_receipt_for_review_raises_an_alert_and_stays_listed_for_the_review_window() -> None:
    view = view_of(review_keep_h=1)
    view.take(T0)
    flag = Flag("weight_unexplained", T0, (), "500 g added and not lifted")
    receipt = FusedReceipt("s-r1", "acct-x", T0, T0 + 9_000, [("cola", 2)], True, 400, T0 + 11_000, [flag])
    view.observe(state("gate-01", "online"), T0 + 11_000, [ReceiptFinal(receipt)])
    retained, alerts = decoded(view, T0 + 11_000)
    session = retained[f"{PREFIX}/sessions/s-r1"]
    assert (session["state"], session["flags"], session["lines"]) == ("review", ["weight_unexplained"], [["cola", 2]])
    assert "acct-x" not in json.dumps(session)
    assert [(a["kind"], a["reason"], a["dev"]) for a in alerts] == [("review", "weight_unexplained", "s-r1")]
    assert view.summary(T0 + 11_000).review_queue == 1
    retained, _ = decoded(view, T0 + 11_000 + 3_600_001)
    assert retained[f"{PREFIX}/sessions/s-r1"] is None
    assert view.summary(T0 + 11_000 + 3_600_001).review_queue == 0


def test_a_device_going_offline_raises_one_alert_and_coming_back_clears_it() -> None:
    view = view_of()
    view.take(T0)
    view.observe(state("shelf-01", "online"), T0 + 1_000)
    assert decoded(view, T0 + 1_000)[0][f"{PREFIX}/devices/shelf-01"]["availability"] == "online"
    view.observe(state("shelf-01", "offline"), T0 + 2_000)
    view.observe(state("shelf-01", "offline"), T0 + 2_500)  # the retained will, delivered again
    retained, alerts = decoded(view, T0 + 3_000)
    assert retained[f"{PREFIX}/devices/shelf-01"]["availability"] == "offline"
    assert retained[f"{PREFIX}/devices/shelf-01"]["alerts"] == ["device_offline"]
    assert [(a["kind"], a["reason"], a["active"]) for a in alerts] == [("device_offline", "offline", True)]
    view.observe(state("shelf-01", "online"), T0 + 4_000)
    retained, alerts = decoded(view, T0 + 4_000)
    assert retained[f"{PREFIX}/devices/shelf-01"]["alerts"] == []
    assert [(a["kind"], a["active"]) for a in alerts] == [("device_offline", False)]
    assert view.summary(T0 + 4_000).devices_online == 1


def test_a_node_that_says_online_but_sends_nothing_becomes_silent() -> None:
    view = view_of(silent_after_s=60)
    view.observe(state("shelf-01", "online"), T0)
    view.take(T0)
    assert decoded(view, T0 + 59_000)[1] == []
    retained, alerts = decoded(view, T0 + 61_000)
    assert retained[f"{PREFIX}/devices/shelf-01"]["availability"] == "silent"
    assert [(a["kind"], a["reason"]) for a in alerts] == [("device_offline", "silent")]
    view.observe(health(1), T0 + 62_000)
    retained, alerts = decoded(view, T0 + 62_000)
    assert retained[f"{PREFIX}/devices/shelf-01"]["availability"] == "online"
    assert [(a["kind"], a["active"]) for a in alerts] == [("device_offline", False)]


def test_silence_is_counted_from_the_views_start_after_a_restart() -> None:
    view = OperatorView("small", DEVICES, LAYOUT, None, OperatorConfig(silent_after_s=60), T0 + 3_600_000)
    view.observe(state("shelf-01", "online"), T0)  # replayed from an hour ago
    retained, alerts = decoded(view, T0 + 3_600_000 + 1_000)
    assert retained[f"{PREFIX}/devices/shelf-01"]["availability"] == "online" and alerts == []


def test_a_growing_spool_alerts_once_and_clears_when_it_drains() -> None:
    view = view_of(spool_alert=100)
    kinds = []
    for seq, spool in enumerate([50, 150, 200, 260, 10], start=1):
        view.observe(health(seq, spool), T0 + seq * 1_000)
        retained, alerts = decoded(view, T0 + seq * 1_000)
        kinds += [(a["kind"], a["active"]) for a in alerts]
        if seq == 3:
            assert retained[f"{PREFIX}/devices/shelf-01"]["spool"] == 200
    assert kinds == [("spool_growing", True), ("spool_growing", False)]


def test_shelf_drift_from_health_counters_alerts_and_clears() -> None:
    view = view_of()
    view.observe(health(1, lanes_drifted=2), T0)
    _, alerts = decoded(view, T0)
    assert [(a["kind"], a["dev"]) for a in alerts] == [("shelf_drift", "shelf-01")]
    assert "2 lanes" in alerts[0]["detail"]
    view.observe(health(2, lanes_drifted=2), T0 + 1_000)
    assert decoded(view, T0 + 1_000)[1] == []
    view.observe(health(3, lanes_drifted=0), T0 + 2_000)
    assert [(a["kind"], a["active"]) for a in decoded(view, T0 + 2_000)[1]] == [("shelf_drift", False)]


def test_a_door_alarm_is_an_alert_from_its_gate() -> None:
    view = view_of()
    view.observe(Alarm(**header("gate-01", 5), gate="gate-01", kind="door_held", t=T0), T0 + 10)
    _, alerts = decoded(view, T0 + 10)
    assert [(a["kind"], a["dev"]) for a in alerts] == [("door_held", "gate-01")]


def test_last_seen_alone_is_republished_only_every_state_interval() -> None:
    view = view_of(state_interval_s=10)
    view.observe(state("shelf-01", "online"), T0)
    view.take(T0)
    topic = f"{PREFIX}/devices/shelf-01"
    published = []
    for second in range(1, 25):
        view.observe(state("shelf-01", "online"), T0 + second * 1_000)
        if topic in view.take(T0 + second * 1_000).retained:
            published.append(second)
    assert published == [10, 20]
    view.observe(health(1), T0 + 21_000)
    assert topic in view.take(T0 + 21_000).retained, "anything else is published at once"


def test_a_node_removed_from_the_registry_is_cleared_with_its_discovery() -> None:
    view = view_of()
    view.take(T0)
    view.use_devices({node: role for node, role in DEVICES.items() if node != "camera-01"})
    retained, _ = decoded(view, T0 + 1)
    assert retained == {f"{PREFIX}/devices/camera-01": None, "homeassistant/device/small-camera-01/config": None}
    assert view.take(T0 + 2).retained == {}
    assert CLEARED == b""


def test_a_view_rebuilt_from_the_same_messages_holds_the_same_topics() -> None:
    messages = [(state("shelf-01", "online"), T0), (health(1, 7), T0 + 1_000), (state("gate-01", "stopped"), T0 + 2)]
    live, rebuilt = view_of(), view_of()
    for message, recv in messages:
        live.observe(message, recv)
        live.take(recv)
    for message, recv in messages:
        rebuilt.observe(message, recv)
    assert rebuilt.snapshot(T0 + 5_000) == live.snapshot(T0 + 5_000)


def telemetry(shelf: str, lanes: range, seq: int = 1) -> Telemetry:
    return Telemetry(**header("shelf-01", seq), shelf=shelf, lanes=[(lane, 1_000_000 + lane) for lane in lanes])


@pytest.mark.parametrize("layout", [LAYOUT, None], ids=["layout", "no-layout"])
@pytest.mark.parametrize("shelf", ["shelf-01", "shelf-02"], ids=["own-shelf", "other-shelf"])
def test_a_telemetry_of_1024_lanes_is_bounded_counted_and_alerted(layout: StoreLayout | None, shelf: str) -> None:
    """Issue 20: 1,024 lanes made a 699 KB discovery message, over the broker's packet limit."""
    view = OperatorView("small", DEVICES, layout, None, OperatorConfig(), T0)
    view.take(T0)
    view.observe(telemetry(shelf, range(1024)), T0 + 1)
    changes = view.take(T0 + 2)
    assert changes.retained, "the shelf and its discovery are still published"
    assert max(len(payload) for payload in changes.retained.values()) <= MAX_RETAINED_BYTES
    lanes = json.loads(changes.retained[f"{PREFIX}/shelves/{shelf}"])["lanes"]
    assert len(lanes) == MAX_LANES
    planned = {slot.lane for slot in layout.shelf_by_id[shelf].lanes} if layout is not None else set()
    assert planned <= {lane["lane"] for lane in lanes}, "the layout's lanes always have room"
    assert all(lane["weight_mg"] == 1_000_000 + lane["lane"] for lane in lanes)
    alerts = [msgspec.to_builtins(alert) for alert in changes.alerts]
    assert [(a["kind"], a["reason"], a["dev"], a["count"]) for a in alerts] == [
        ("derived_failed", "lanes_dropped", "shelf-01", 1024 - MAX_LANES)
    ]
    assert view.summary(T0 + 2).derived_failed == {"lanes_dropped": 1024 - MAX_LANES}
    # the lanes it holds keep their updates; no new lane gets in
    view.observe(telemetry(shelf, range(1024), seq=2), T0 + 3)
    assert view.summary(T0 + 3).derived_failed == {"lanes_dropped": 2 * (1024 - MAX_LANES)}


def test_shelves_beyond_the_bound_are_left_out_and_the_layouts_keep_their_place() -> None:
    view = view_of()
    view.take(T0)
    for n in range(MAX_SHELVES + 10):
        view.observe(telemetry(f"made-up-{n}", range(2), seq=n + 1), T0 + n)
    _, alerts = decoded(view, T0 + 1_000)
    shelves = {t.rsplit("/", 1)[1] for t in view.snapshot(T0 + 1_000) if "/shelves/" in t}
    assert len(shelves) == len(LAYOUT.shelves) + MAX_SHELVES
    assert {s.shelf for s in LAYOUT.shelves} <= shelves
    assert [(a["reason"], a["count"]) for a in alerts] == [("shelves_dropped", 1)] * 10
    view.observe(telemetry("shelf-03", range(4), seq=99), T0 + 2_000)
    assert decoded(view, T0 + 2_000)[1] == [], "a planned shelf always has room"


def test_a_payload_over_the_bound_is_never_handed_out() -> None:
    """Whatever grows past MAX_RETAINED_BYTES (here a session's flags), the topic keeps what
    was last published, and one alert says so."""
    stream = Stream()
    stream.qr(0, "q1", "acct-ann")
    stream.passage(1_000, "in", "q1")
    engine = FusionEngine(LAYOUT)
    view = view_of(engine)
    for recv, message in sorted(stream.messages, key=lambda item: item[0]):
        view.observe(message, T0 + recv, engine.apply(message, T0 + recv))
    engine.advance(T0 + 5_000)  # past the reorder window: the session is open
    topic = f"{PREFIX}/sessions/s-q1"
    before = view.take(T0 + 5_000).retained[topic]
    flag = Flag("weight_unexplained", T0, (), "")
    engine.sessions["s-q1"].flags.extend([flag] * (MAX_RETAINED_BYTES // len(b'"weight_unexplained",')))
    changes = view.take(T0 + 6_000)
    assert topic not in changes.retained and view.snapshot(T0 + 6_000)[topic] == before
    assert [(a.kind, a.reason) for a in changes.alerts] == [("derived_failed", "oversize")]
    assert view.take(T0 + 7_000).alerts == [], "one alert while it stays over"


def test_what_the_engine_leaves_out_at_its_bounds_is_alerted_once_with_its_count() -> None:
    stream = Stream()
    for n in range(MAX_INSIDE + 3):
        stream.palm_match(500 + n, f"p-{n}", f"acct-{n}")
        stream.passage(1_000 + n, "in", f"p-{n}")
    engine = FusionEngine(LAYOUT)
    view = view_of(engine)
    view.take(T0)
    for recv, message in stream.messages:
        view.observe(message, T0 + recv, engine.apply(message, T0 + recv))
    engine.advance(T0 + 10_000)
    changes = view.take(T0 + 10_000)
    assert [(a.kind, a.reason, a.count) for a in changes.alerts] == [("derived_failed", "passages_dropped", 3)]
    assert sum("/sessions/" in topic for topic in changes.retained) == MAX_INSIDE <= MAX_SESSIONS
    assert view.take(T0 + 11_000).alerts == []


def test_a_view_whose_take_keeps_failing_holds_at_most_max_alerts_and_counts_the_rest() -> None:
    """Issue 20 review: a take that kept raising never drained the alerts, and every failure
    the worker counted (view.fail) added one: memory grew without bound."""
    view = view_of()
    topics = view._topics
    view._topics = lambda devices, now_ms: 1 / 0  # type: ignore[assignment,method-assign,return-value]
    for n in range(3 * MAX_ALERTS):
        view.fail(T0 + n, "view_error", "shelf-01", "a bug the message found")
        with pytest.raises(ZeroDivisionError):
            view.take(T0 + n)
    view._topics = topics  # type: ignore[method-assign]
    alerts = view.take(T0 + 3 * MAX_ALERTS).alerts
    assert len(alerts) == MAX_ALERTS + 1
    assert {(a.reason, a.ts_ms) for a in alerts[:MAX_ALERTS]} == {("view_error", T0 + n) for n in range(MAX_ALERTS)}
    assert (alerts[-1].kind, alerts[-1].reason, alerts[-1].count) == (
        "derived_failed",
        "alerts_dropped",
        2 * MAX_ALERTS,
    )
    assert view.failed == {"view_error": 3 * MAX_ALERTS, "alerts_dropped": 2 * MAX_ALERTS}
    assert view.take(T0 + 3 * MAX_ALERTS + 1).alerts == []

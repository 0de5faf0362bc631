"""What the devices report of the store, with their errors: the fast path's message bodies.
Pure: the resolved store and a seeded random generator in, timed message bodies out.

The default rates are the ones this project's own device benchmarks measured
(docs/BENCHMARKS.md): the shelf detector's recall and precision, its delta error and
settling latency; the camera's interaction recall and precision, its timing error, how
well it judges what a hand held, and where it places people and reaching shoppers
(p95 51 mm and 308 mm). A camera sees the people inside its view, loses some, merges two
standing closer than a body's width, and now and then sees someone who is not there.
"""

import base64
import math
import random
from dataclasses import dataclass, field
from typing import Any

from nacl.signing import SigningKey

from edge.protocol.qr_token import QrClaims, issue
from gateway.layout import StoreLayout
from hw.sim.world.plan import Person, Visit
from hw.sim.world.store import Resolved


@dataclass(frozen=True, slots=True)
class SensorModel:
    presence_hz: int = 5
    presence_miss: float = 0.03
    presence_sigma_mm: float = 26.0
    presence_false: float = 0.005  # per frame: a detection of nobody
    merge_mm: float = 350.0  # two people closer than this are one blob
    reach_miss: float = 0.005
    reach_split: float = 0.007  # a hand that left and came back is reported twice
    reach_t_sigma_ms: float = 40.0
    reach_sigma_mm: float = 70.0
    wrong_reacher: float = 0.03  # with someone else within 700 mm, the camera places them instead
    extra_lane: float = 0.03  # a hand seen in the neighbouring lane too
    holding_right: float = 0.966
    weight_miss: float = 0.0001
    weight_false: float = 0.0003  # per real change: a small phantom change somewhere
    weight_noise_mg: float = 550.0
    weight_settle_ms: tuple[int, int] = (350, 700)  # from the end of the change to the event
    frame_drops: list[tuple[str, int, int]] = field(default_factory=list)  # (camera, from, to): no frames


@dataclass(frozen=True, slots=True)
class Emitted:
    """A message body a device makes at `at_ms` (true time); `times` names its body fields
    that hold device times, to be shifted by the device's clock skew."""

    dev: str
    type: str
    at_ms: int
    body: dict[str, Any]
    times: tuple[str, ...] = ()


def emit_all(
    layout: StoreLayout,
    visits: list[Visit],
    resolved: Resolved,
    model: SensorModel,
    rng: random.Random,
    start_ms: int,
    end_ms: int,
) -> list[Emitted]:
    people = [person for visit in visits for person in visit.people]
    out: list[Emitted] = []
    out += _credentials(layout, visits, rng)
    out += _presence(layout, people, model, rng, start_ms, end_ms)
    out += _interactions(layout, people, resolved, model, rng)
    out += _weights(layout, resolved, model, rng)
    return out


def _dropped(model: SensorModel, camera: str, t: int) -> bool:
    return any(c == camera and a <= t < b for c, a, b in model.frame_drops)


def _credentials(layout: StoreLayout, visits: list[Visit], rng: random.Random) -> list[Emitted]:
    key = SigningKey(rng.randbytes(32))
    gate = layout.gates[0]
    out: list[Emitted] = []
    for visit in visits:
        for person in visit.people:
            req = f"r{person.id}"
            if person.credential == "qr":
                claims = QrClaims(
                    visit.account, "entry", person.shown_ms - 60_000, person.shown_ms + 600_000, rng.randbytes(16)
                )
                out.append(Emitted(gate.gate, "qr", person.shown_ms, {"req": req, "token": issue(claims, key)}))
            else:
                sealed = base64.b64encode(rng.randbytes(96)).decode()
                out.append(
                    Emitted(
                        gate.gate,
                        "palm",
                        person.shown_ms,
                        {"req": req, "purpose": "entry", "sealed": sealed, "quality_pm": 800, "live_pm": 900},
                    )
                )
                out.append(
                    Emitted(
                        "upstream",
                        "decision",
                        person.shown_ms + rng.randint(120, 400),
                        {"req": req, "result": "match", "account": visit.account, "score_pm": 120},
                    )
                )
            for direction, t in (("in", person.entered_ms), ("out", person.left_ms)):
                out.append(
                    Emitted(
                        gate.gate,
                        "passage",
                        t + 30,
                        {
                            "gate": gate.gate,
                            "dir": direction,
                            "t": t,
                            "grant": req if direction == "in" else None,
                            "x_mm": gate.x_mm,
                            "y_mm": gate.y_mm,
                        },
                        ("t",),
                    )
                )
    return out


def _presence(
    layout: StoreLayout, people: list[Person], model: SensorModel, rng: random.Random, start_ms: int, end_ms: int
) -> list[Emitted]:
    period = 1000 // model.presence_hz
    people = sorted(people, key=lambda p: p.path[0][0])
    out: list[Emitted] = []
    for camera in layout.cameras:
        x0, y0, x1, y1 = camera.view
        phase = rng.randrange(period)
        active: list[Person] = []
        upcoming = 0
        t = start_ms + phase
        while t < end_ms:
            while upcoming < len(people) and people[upcoming].path[0][0] <= t:
                active.append(people[upcoming])
                upcoming += 1
            if active and active[0].path[-1][0] < t:
                active = [p for p in active if p.path[-1][0] >= t]
            if _dropped(model, camera.node, t):
                t += period
                continue
            seen: list[list[float]] = []
            for person in active:
                where = person.at(t)
                if where is None or not (x0 <= where[0] <= x1 and y0 <= where[1] <= y1):
                    continue
                if rng.random() < model.presence_miss:
                    continue
                for blob in seen:
                    if math.dist(blob[:2], where) < model.merge_mm:
                        blob[0], blob[1] = (blob[0] + where[0]) / 2, (blob[1] + where[1]) / 2
                        break
                else:
                    seen.append([where[0], where[1]])
            found = [
                [
                    round(x + rng.gauss(0, model.presence_sigma_mm)),
                    round(y + rng.gauss(0, model.presence_sigma_mm)),
                    rng.randint(650, 980),
                ]
                for x, y in seen
            ]
            if rng.random() < model.presence_false:
                found.append([rng.randint(x0, x1), rng.randint(y0, y1), rng.randint(500, 700)])
            out.append(Emitted(camera.node, "presence", t, {"people": found}))
            t += period
    return out


def _interactions(
    layout: StoreLayout, people: list[Person], resolved: Resolved, model: SensorModel, rng: random.Random
) -> list[Emitted]:
    watcher = {shelf: camera.node for camera in layout.cameras for shelf in camera.shelves}
    by_id = {person.id: person for person in people}
    inside: dict[int, list[Person]] = {}  # 10 s bucket: who is in the store during it
    for person in people:
        for bucket in range(person.path[0][0] // 10_000, person.path[-1][0] // 10_000 + 1):
            inside.setdefault(bucket, []).append(person)
    out: list[Emitted] = []
    for seen in resolved.reaches:
        reach = seen.reach
        camera = watcher.get(reach.shelf)
        if camera is None or rng.random() < model.reach_miss:
            continue
        if _dropped(model, camera, reach.t0) or _dropped(model, camera, reach.t1):
            continue
        lanes = set(reach.lanes)
        if rng.random() < model.extra_lane:
            extra = max(lanes) + 1 if (reach.shelf, max(lanes) + 1) in layout.lane_spots else min(lanes) - 1
            if (reach.shelf, extra) in layout.lane_spots:
                lanes.add(extra)
        mid = (reach.t0 + reach.t1) // 2
        where = by_id[reach.person].at(mid) or (0.0, 0.0)
        others = [p.at(mid) for p in inside.get(mid // 10_000, []) if p.id != reach.person]
        near = [o for o in others if o is not None and math.dist(o, where) < 700]
        # the camera's rule: the reaching person is the one seen nearest the lane
        spot = layout.lane_spots[(reach.shelf, reach.lanes[0])]
        nearest = min([where, *near], key=lambda p: math.dist(p, (spot.x_mm, spot.y_mm)))
        if nearest is not where or (near and rng.random() < model.wrong_reacher):
            where = nearest if nearest is not where else near[0]
        holding = seen.holding
        if rng.random() > model.holding_right:
            holding = "unknown" if rng.random() < 0.67 else ("none" if holding == "item" else "item")
        t0 = reach.t0 + round(rng.gauss(0, model.reach_t_sigma_ms))
        t1 = max(t0 + 100, reach.t1 + round(rng.gauss(0, model.reach_t_sigma_ms)))
        body = {
            "shelf": reach.shelf,
            "lanes": sorted(lanes),
            "t0": t0,
            "t1": t1,
            "x_mm": round(where[0] + rng.gauss(0, model.reach_sigma_mm)),
            "y_mm": round(where[1] + rng.gauss(0, model.reach_sigma_mm)),
            "conf_pm": rng.randint(700, 960),
            "holding": holding,
        }
        out.append(Emitted(camera, "interaction", t1 + 300 + rng.randint(0, 80), body, ("t0", "t1")))
        if rng.random() < model.reach_split:
            again = dict(body, t0=t1 + 300, t1=t1 + 700, holding="none")
            out.append(Emitted(camera, "interaction", t1 + 1_000 + rng.randint(0, 80), again, ("t0", "t1")))
    return out


def _weights(layout: StoreLayout, resolved: Resolved, model: SensorModel, rng: random.Random) -> list[Emitted]:
    out: list[Emitted] = []
    lanes = list(layout.lane_spots)
    for change in resolved.changes:
        if rng.random() < model.weight_miss:
            continue
        out.append(_weight_event(change.shelf, change.lane, change.t0, change.t1, change.delta_mg, model, rng))
        if rng.random() < model.weight_false:
            shelf, lane = rng.choice(lanes)
            phantom = rng.choice((-1, 1)) * rng.randint(9_000, 30_000)
            t0 = change.t1 + rng.randint(5_000, 60_000)
            out.append(_weight_event(shelf, lane, t0, t0 + 400, phantom, model, rng))
    return out


def _weight_event(
    shelf: str, lane: int, t0: int, t1: int, delta: int, model: SensorModel, rng: random.Random
) -> Emitted:
    measured = delta + round(rng.gauss(0, model.weight_noise_mg))
    before = 20_000_000 + rng.randint(0, 5_000_000)
    body = {
        "shelf": shelf,
        "lane": lane,
        "t0": t0,
        "t1": t1,
        "delta_mg": measured,
        "before_mg": before,
        "after_mg": before + measured,
        "noise_mg": 1_000,
    }
    return Emitted(shelf, "weight", t1 + rng.randint(*model.weight_settle_ms), body, ("t0", "t1"))

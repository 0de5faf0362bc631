"""The store in time order: which item each hand really took, what each lane's load cell
really felt, and the ground-truth receipt of every session. Pure.

Hands act in the order of their times. A pick takes the lane's planogram product, or, where
someone put a wrong item back on top, that item half the time. Each item keeps its own
weight (drawn once from its product's spread), so a misplaced can weighs what it weighed
when it was picked. Load-cell changes on one lane that overlap in time are one change, as a
shelf node's detector sees them.
"""

import random
from collections import Counter
from dataclasses import dataclass, field

from gateway.layout import StoreLayout
from hw.sim.world.plan import Reach, Visit

Item = tuple[str, int]  # sku, weight_mg
TAKES_MISPLACED = 0.5  # how often a hand takes a misplaced item lying on top of a lane


@dataclass(slots=True)
class LaneChange:
    shelf: str
    lane: int
    t0: int  # unsettled from
    t1: int  # to
    delta_mg: int
    sessions: tuple[str, ...] = ()  # whose hands made it


@dataclass(slots=True)
class SeenReach:
    """A reach as the camera should see it: the hand's lanes and times, what it held leaving."""

    reach: Reach
    holding: str  # "item" or "none"


@dataclass(frozen=True, slots=True)
class TrueReceipt:
    session: str
    account: str
    opened_ms: int
    closed_ms: int
    lines: tuple[tuple[str, int], ...]  # (sku, qty), qty > 0, sorted
    people: int
    hard: tuple[str, ...]  # the hard cases this visit met


@dataclass
class Resolved:
    changes: list[LaneChange] = field(default_factory=list)
    reaches: list[SeenReach] = field(default_factory=list)
    receipts: dict[str, TrueReceipt] = field(default_factory=dict)


def resolve(layout: StoreLayout, visits: list[Visit], rng: random.Random) -> Resolved:
    people = {person.id: person for visit in visits for person in visit.people}
    carts: dict[str, list[Item]] = {visit.session: [] for visit in visits}
    taken_by: dict[tuple[int, int], list[Item]] = {}  # (person, reach index): items it took
    hard: dict[str, set[str]] = {visit.session: set() for visit in visits}
    misplaced: dict[tuple[str, int], list[Item]] = {}
    raw: list[LaneChange] = []
    result = Resolved()
    acts = sorted(
        (
            (reach.t1, person.id, index, reach)
            for person in people.values()
            for index, reach in enumerate(person.reaches)
        ),
        key=lambda act: (act[0], act[1], act[2]),
    )
    for _, person_id, index, reach in acts:
        session = reach.session
        holding = "none"
        if reach.kind == "pick" or (reach.kind == "rest" and reach.rest_then_take):
            takes = reach.take if reach.kind == "pick" else {reach.lanes[0]: reach.rest_then_take}
            items: list[Item] = []
            for lane, count in takes.items():
                lane_items = [_take(layout, misplaced, reach.shelf, lane, rng) for _ in range(count)]
                if any(sku != layout.lane_spots[(reach.shelf, lane)].sku for sku, _ in lane_items):
                    hard[session].add("picked_misplaced")
                items += lane_items
                weight = sum(w for _, w in lane_items)
                if reach.kind == "rest":
                    raw.append(LaneChange(reach.shelf, lane, reach.t0 + 100, reach.t0 + 500, reach.rest_mg, (session,)))
                    raw.append(
                        LaneChange(
                            reach.shelf, lane, reach.t1 - 400, reach.t1 + 150, -reach.rest_mg - weight, (session,)
                        )
                    )
                else:
                    raw.append(LaneChange(reach.shelf, lane, reach.t0 + 150, reach.t1 + 150, -weight, (session,)))
            taken_by[(person_id, index)] = items
            carts[session] += items
            holding = "item"
            if sum(takes.values()) > 1:
                hard[session].add("several_items")
            if reach.kind == "rest":
                hard[session].add("resting_hand")
        elif reach.kind == "rest":
            lane = reach.lanes[0]
            raw.append(LaneChange(reach.shelf, lane, reach.t0 + 100, reach.t0 + 500, reach.rest_mg, (session,)))
            raw.append(LaneChange(reach.shelf, lane, reach.t1 - 400, reach.t1 + 150, -reach.rest_mg, (session,)))
            hard[session].add("resting_hand")
        elif reach.kind == "put" and reach.put_of is not None and reach.put_lane is not None:
            candidates = [item for item in taken_by.get((person_id, reach.put_of), []) if item in carts[session]]
            if candidates:
                item = candidates[0]
                carts[session].remove(item)
                taken_by[(person_id, reach.put_of)].remove(item)
                lane = reach.put_lane
                if item[0] != layout.lane_spots[(reach.shelf, lane)].sku:
                    misplaced.setdefault((reach.shelf, lane), []).append(item)
                    hard[session].add("wrong_lane")
                raw.append(LaneChange(reach.shelf, lane, reach.t0 + 150, reach.t1 + 150, item[1], (session,)))
        result.reaches.append(SeenReach(reach, holding))
    result.changes = _merged(raw)
    for visit in visits:
        counts = Counter(sku for sku, _ in carts[visit.session])
        if len(visit.people) > 1:
            hard[visit.session].add("pair")
        result.receipts[visit.session] = TrueReceipt(
            visit.session,
            visit.account,
            min(p.entered_ms for p in visit.people),
            max(p.left_ms for p in visit.people),
            tuple(sorted(counts.items())),
            len(visit.people),
            tuple(sorted(hard[visit.session])),
        )
    return result


def _take(
    layout: StoreLayout, misplaced: dict[tuple[str, int], list[Item]], shelf: str, lane: int, rng: random.Random
) -> Item:
    stack = misplaced.get((shelf, lane))
    if stack and rng.random() < TAKES_MISPLACED:
        return stack.pop()
    product = layout.catalogue[layout.lane_spots[(shelf, lane)].sku]
    return product.sku, max(1, round(rng.gauss(product.unit_mg, product.spread_mg)))


def _merged(changes: list[LaneChange]) -> list[LaneChange]:
    """Changes on one lane whose unsettled spans overlap are one change."""
    by_lane: dict[tuple[str, int], list[LaneChange]] = {}
    for change in sorted(changes, key=lambda c: c.t0):
        spans = by_lane.setdefault((change.shelf, change.lane), [])
        if spans and change.t0 <= spans[-1].t1 + 200:
            last = spans[-1]
            last.t1 = max(last.t1, change.t1)
            last.delta_mg += change.delta_mg
            last.sessions += tuple(s for s in change.sessions if s not in last.sessions)
        else:
            spans.append(LaneChange(change.shelf, change.lane, change.t0, change.t1, change.delta_mg, change.sessions))
    return sorted((c for spans in by_lane.values() for c in spans if c.delta_mg != 0), key=lambda c: c.t0)

"""What shoppers do: visits planned on the store's floor, with the ground truth of what each
session takes home. Pure: a seeded random generator and the layout in, plans out.

A visit is one or more people on one account (a pair shows two credentials and shops as
one session). Each person walks from the gate to shelf lanes and back, around the island,
and at each lane reaches in: to pick one or several items, to put back something picked
earlier (to its own lane, or a wrong one), to rest a hand on the shelf, or just to look.
Standing places at a shelf are booked, so two people never stand in one spot: the second
stands aside, nearer their lane than the first stands, or waits their turn.

Which item a hand actually takes is settled later in time order (`hw.sim.world.store`),
because a misplaced item on top of a lane is there only once somebody put it there.
"""

import bisect
import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from gateway.layout import LaneSpot, StoreLayout

Kind = Literal["pick", "put", "rest", "look"]
Keyframe = tuple[int, float, float]  # t_ms, x_mm, y_mm

MIN_APART_MM = 550.0  # two people standing at a shelf are at least this far apart
WALK_BEHIND_MM = 600  # people walk this far behind those standing at a shelf
NEARER_MM = 200.0  # someone reaching past a neighbour stands this much nearer the lane than they do
KEEP_RIGHT_MM = 250.0  # each walking direction keeps this far to its side of a walking line
GATE_GAP_MS = 1_800  # the turnstile lets one person through at a time
PERSONAL_MM = 550.0  # walkers keep at least this far from other shoppers
TOO_CLOSE_MM = 450.0  # a visit that would bring two shoppers closer than this is planned again, later
REPLANS = 12
SPACE_MS = 200  # the step at which planned people's places are kept and checked


@dataclass(slots=True)
class Reach:
    person: int
    session: str
    shelf: str
    lanes: tuple[int, ...]
    t0: int  # hand in
    t1: int  # hand out
    kind: Kind
    take: dict[int, int] = field(default_factory=dict)  # pick: lane -> items
    put_of: int | None = None  # put: index (in the person's reaches) of the pick it returns an item of
    put_lane: int | None = None
    rest_mg: int = 0  # rest: what the hand weighs on the shelf
    rest_then_take: int = 0  # rest: items picked as the hand lifts


@dataclass(slots=True)
class Person:
    id: int
    session: str
    credential: Literal["qr", "palm"]
    shown_ms: int  # credential presented
    entered_ms: int  # passage in
    left_ms: int  # passage out
    path: list[Keyframe]
    reaches: list[Reach] = field(default_factory=list)

    def at(self, t_ms: int) -> tuple[float, float] | None:
        """Where the person is at t_ms; None before entering or after leaving."""
        path = self.path
        if t_ms < path[0][0] or t_ms > path[-1][0]:
            return None
        hi = max(1, min(len(path) - 1, bisect.bisect_right(path, t_ms, key=_time)))
        t0, x0, y0 = path[hi - 1]
        t1, x1, y1 = path[hi]
        share = (t_ms - t0) / (t1 - t0) if t1 > t0 else 0.0
        return x0 + (x1 - x0) * share, y0 + (y1 - y0) * share


def _time(keyframe: Keyframe) -> int:
    return keyframe[0]


@dataclass(slots=True)
class Visit:
    session: str
    account: str
    people: list[Person]


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How a suite's shoppers behave: each a probability or a range."""

    stops: tuple[int, int] = (1, 4)  # lanes visited
    nothing: float = 0.05  # leaves with nothing (only looks)
    multi: float = 0.12  # a pick takes 2-3 items at once
    two_lanes: float = 0.04  # a pick takes one item from each of two neighbouring lanes
    put_back: float = 0.12  # a pick is later put back
    wrong_lane: float = 0.25  # a put-back goes to a wrong lane
    rest: float = 0.0  # a hand rests on the shelf before lifting (maybe with an item)
    look: float = 0.05  # a reach that takes nothing
    pair: float = 0.0  # the visit is two people on one account
    same_weight: float = 0.0  # a stop goes to a lane of the same-weight pair
    speed_mm_s: tuple[int, int] = (800, 1_400)


class Bookings:
    """Where people stand at each shelf, and when. A place is free when nobody stands within
    MIN_APART_MM of it during the time wanted, and nobody there stands nearer the lane: one
    does not reach past somebody into the lane in front of them, one waits."""

    def __init__(self) -> None:
        self.spans: dict[str, list[tuple[int, int, float]]] = {}

    def place(self, shelf: str, want_x: float, t0: int, t1: int, reach_mm: float) -> float | None:
        """A free standing x near want_x (within reach of it) for [t0, t1], booked; None if none."""
        taken = [x for a, b, x in self.spans.get(shelf, []) if a < t1 and t0 < b]
        for shift in (0, 150, -150, 300, -300, 450, -450):
            if abs(shift) > reach_mm:
                break
            x = want_x + shift
            if all(abs(x - other) >= MIN_APART_MM and abs(other - want_x) > abs(shift) + NEARER_MM for other in taken):
                self.spans.setdefault(shelf, []).append((t0, t1, x))
                return x
        return None


class Planner:
    """Plans visits into one store timeline, booking standing places as it goes."""

    def __init__(self, layout: StoreLayout, rng: random.Random) -> None:
        self.layout = layout
        self.rng = rng
        self.bookings = Bookings()
        self._space: dict[int, list[tuple[float, float, int]]] = {}  # time: where each person is
        self._gate: list[int] = []  # when people pass the gate, sorted
        self.gate = layout.gates[0]
        self._person = 0
        self._spots = list(layout.lane_spots.values())
        self._same_weight = self._same_weight_spots()
        island = [s for s in layout.shelves if s.y_mm < layout.floor[1] * 0.6]
        if island:
            self._island_x = (
                min(s.x_mm for s in island),
                max(s.x_mm + sum(slot.width_mm for slot in s.lanes) for s in island),
            )
            self._island_y = min(s.y_mm for s in island) + 150
        else:
            self._island_x, self._island_y = (0, 0), -1

    def _same_weight_spots(self) -> list[LaneSpot]:
        catalogue = self.layout.catalogue
        found = []
        for a in self._spots:
            for b in self._spots:
                if a is not b and a.shelf == b.shelf and abs(a.lane - b.lane) == 1:
                    pa, pb = catalogue[a.sku], catalogue[b.sku]
                    if abs(pa.unit_mg - pb.unit_mg) < 2 * max(pa.spread_mg, pb.spread_mg, 1_000):
                        found.append(a)
                        break
        return found

    def visit(
        self,
        account: str,
        start_ms: int,
        behaviour: Behaviour,
        stops: list[LaneSpot] | None = None,
        crowd_at: tuple[LaneSpot, int] | None = None,
        people: int | None = None,
    ) -> Visit:
        """One visit starting at start_ms (the first credential shown). `crowd_at` makes the
        first stop that lane at that time, whoever else is there. The session is named as
        the gateway names it: after the grant of whoever passes the gate first."""
        rng = self.rng
        count = people if people is not None else (2 if rng.random() < behaviour.pair else 1)
        wanted = [stops if stops is not None and n == 0 else self._stops(behaviour) for n in range(count)]
        while count > 1 and not wanted[0]:
            wanted[0] = self._stops(behaviour)  # whoever comes in first waits for the other inside
        for attempt in range(REPLANS):
            saved = (
                {shelf: list(spans) for shelf, spans in self.bookings.spans.items()},
                list(self._gate),
                self._person,
            )
            session = f"s-r{self._person + 1}"
            members: list[Person] = []
            clear = True
            for n in range(count):
                shown = start_ms + n * rng.randint(2_500, 4_500)
                person = self._person_plan(session, n, shown, behaviour, wanted[n], crowd_at if n == 0 else None)
                clear = clear and not self._too_close(person)
                members.append(person)
                self._occupy(person)  # a companion keeps a body's width away too
            together = max(p.entered_ms for p in members) < min(p.left_ms for p in members)
            if attempt == REPLANS - 1 or (together and clear):
                break
            # someone would walk into somebody: the same visit a little later
            for person in members:
                self._vacate(person)
            self.bookings.spans, self._person = saved[0], saved[2]
            self._gate = saved[1]
            start_ms += 2_500 * (attempt + 1)  # a busy store: wait outside, longer each time
            if crowd_at is not None:
                crowd_at = (crowd_at[0], crowd_at[1] + 2_500 * (attempt + 1))
        # the gateway names a session after the grant of whoever passed the gate first
        session = f"s-r{min(members, key=lambda p: p.entered_ms).id}"
        for person in members:
            person.session = session
            for reach in person.reaches:
                reach.session = session
        return Visit(session, account, members)

    def _too_close(self, person: Person) -> bool:
        """Whether the person would come within TOO_CLOSE_MM of someone planned before."""
        for t, (px, py) in _places(person):
            for x, y, other in self._space.get(t, ()):
                if other != person.id and math.hypot(x - px, y - py) < TOO_CLOSE_MM:
                    return True
        return False

    def _stops(self, behaviour: Behaviour) -> list[LaneSpot]:
        rng = self.rng
        if rng.random() < behaviour.nothing:
            return []
        count = rng.randint(*behaviour.stops)
        chosen: list[LaneSpot] = []
        for _ in range(count):
            if self._same_weight and rng.random() < behaviour.same_weight:
                chosen.append(rng.choice(self._same_weight))
            else:
                chosen.append(rng.choice(self._spots))
        return chosen

    def _person_plan(
        self,
        session: str,
        member: int,
        shown: int,
        behaviour: Behaviour,
        stops: list[LaneSpot],
        crowd_at: tuple[LaneSpot, int] | None,
    ) -> Person:
        rng = self.rng
        self._person += 1
        speed = rng.uniform(*behaviour.speed_mm_s) / 1000  # mm per ms
        gate = self.gate
        outside = (gate.x_mm + rng.uniform(-80, 80), gate.y_mm - 400.0)
        # aside of the way out, companions side by side
        inside = (gate.x_mm - 300 + rng.uniform(-80, 80), gate.y_mm + 600.0 + 600 * member)
        here = (float(gate.x_mm), float(gate.y_mm))
        entered = self._gate_slot(shown + rng.randint(900, 1_600))
        for _ in range(40):
            # wait outside until the way in is clear: nobody stands about in the gate
            leg = (entered + max(1, int(math.dist(here, inside) / speed)), *inside)
            if not self._crowded(self._person, [(entered - 600, *here), (entered, *here), leg]):
                break
            entered = self._gate_slot(entered + 1_000)
        shown = entered - rng.randint(900, 1_600)
        bisect.insort(self._gate, entered)
        path: list[Keyframe] = [(shown, *outside), (entered, *here), leg]
        person = Person(self._person, session, "qr" if rng.random() < 0.5 else "palm", shown, entered, 0, path)
        t = leg[0]
        picks: list[int] = []
        for n, wanted in enumerate(stops):
            spot, at_time = crowd_at if n == 0 and crowd_at is not None else (wanted, None)
            t = self._stop(person, spot, t, speed, behaviour, picks, at_time)
        # put-backs of earlier picks, to their own lane or a wrong one
        for index in list(picks):
            if rng.random() < behaviour.put_back:
                pick = person.reaches[index]
                home = self.layout.lane_spots[(pick.shelf, pick.lanes[0])]
                target = home
                if rng.random() < behaviour.wrong_lane:
                    target = rng.choice([s for s in self._spots if s is not home])
                t = self._put(person, target, index, t, speed)
        t = self._walk(person, t, (gate.x_mm + 250 + rng.uniform(-80, 80), gate.y_mm + 500.0), speed)
        leaving = self._gate_slot(t + int(550 / speed))
        if leaving > t + int(550 / speed):
            _, x, y = person.path[-1]
            t = leaving - int(550 / speed)
            person.path.append((t, x, y))
        person.left_ms = self._walk(person, t, (float(gate.x_mm), float(gate.y_mm)), speed)
        bisect.insort(self._gate, person.left_ms)
        self._walk(person, person.left_ms, (gate.x_mm + rng.uniform(-80, 80), gate.y_mm - 400.0), speed)
        return person

    def _gate_slot(self, wanted: int) -> int:
        """The first time from `wanted` at which nobody else is passing the gate."""
        t = wanted
        while True:
            i = bisect.bisect_left(self._gate, t - GATE_GAP_MS + 1)
            if i == len(self._gate) or self._gate[i] >= t + GATE_GAP_MS:
                return t
            t += 300

    def _walk(self, person: Person, t: int, to: tuple[float, float], speed: float) -> int:
        """Walk from the path's end to `to` along the route; the arrival time. Someone about
        to walk into another shopper's personal space waits a moment first, as people do."""
        path = person.path
        _, x, y = path[-1]
        route = self._route((x, y), to)
        delay = 0
        for _ in range(15):
            legs, here, at = [], (x, y), t + delay
            for waypoint in route:
                at += max(1, int(math.dist(here, waypoint) / speed))
                legs.append((at, *waypoint))
                here = waypoint
            if not self._crowded(person.id, [(t, x, y), (t + delay, x, y), *legs]):
                break
            delay += 600
        if delay:
            path.append((t + delay, x, y))
        path.extend(legs)
        return legs[-1][0] if legs else t

    def _crowded(self, person_id: int, legs: list[Keyframe]) -> bool:
        """Whether walking `legs` comes within PERSONAL_MM of someone else planned."""
        space = self._space
        for (t0, x0, y0), (t1, x1, y1) in itertools.pairwise(legs):
            for t in range(t0 - t0 % SPACE_MS + SPACE_MS, t1 + 1, SPACE_MS):
                share = (t - t0) / (t1 - t0) if t1 > t0 else 0.0
                x, y = x0 + (x1 - x0) * share, y0 + (y1 - y0) * share
                for ox, oy, other in space.get(t, ()):
                    if other != person_id and math.hypot(ox - x, oy - y) < PERSONAL_MM:
                        return True
        return False

    def _occupy(self, person: Person) -> None:
        """Register where a planned person is, for those planned after to keep clear of."""
        for t, (x, y) in _places(person):
            self._space.setdefault(t, []).append((x, y, person.id))

    def _vacate(self, person: Person) -> None:
        for t, _ in _places(person):
            self._space[t] = [entry for entry in self._space[t] if entry[2] != person.id]

    def _route(self, start: tuple[float, float], end: tuple[float, float]) -> list[tuple[float, float]]:
        """Waypoints from start to end: off a shelf front to the aisle's walking line first (so
        that nobody walks through people standing at a shelf), around the island's nearer end
        when crossing it, and in to the shelf front last."""
        waypoints: list[tuple[float, float]] = []
        right_hand = KEEP_RIGHT_MM if end[0] >= start[0] else -KEEP_RIGHT_MM  # walking +x: the lower y side
        leave, approach = self._off_shelf(start, -right_hand), self._off_shelf(end, -right_hand)
        if leave is not None:
            waypoints.append(leave)
            start = leave
        target = approach or end
        (sx, sy), (ex, ey) = start, target
        if self._island_y >= 0:
            front, back = self._island_y, self._island_y + 500
            crosses = (sy < front and ey > back) or (sy > back and ey < front)
            left, right = self._island_x
            if crosses and min(sx, ex) < right + 300 and max(sx, ex) > left - 300:
                via_left, via_right = left - 350.0, right + 350.0
                x = (
                    via_left
                    if abs(sx - via_left) + abs(ex - via_left) <= abs(sx - via_right) + abs(ex - via_right)
                    else via_right
                )
                x += KEEP_RIGHT_MM if ey > sy else -KEEP_RIGHT_MM
                waypoints += [(x, sy), (x, ey)]
        waypoints.append(target)
        if approach is not None:
            waypoints.append(end)
        return waypoints

    def _off_shelf(self, point: tuple[float, float], keep: float = 0.0) -> tuple[float, float] | None:
        """The point on the walking line behind a place at a shelf front, `keep` to one side
        of the line's middle (people keep to one side, so that two passing do not collide);
        None elsewhere."""
        x, y = point
        for shelf in self.layout.shelves:
            width = sum(slot.width_mm for slot in shelf.lanes)
            side = -1 if shelf.facing == "-y" else 1
            stand_y = shelf.y_mm + side * shelf.reach_mm
            if shelf.x_mm - 500 <= x <= shelf.x_mm + width + 500 and abs(y - stand_y) < 250:
                return x, shelf.y_mm + side * (shelf.reach_mm + WALK_BEHIND_MM) + keep
        return None

    def _go_stand(
        self, person: Person, spot: LaneSpot, t: int, speed: float, dwell: int, exact_t: int | None = None
    ) -> tuple[int, float, float] | None:
        """Stand in a free place within reach of the lane for `dwell` ms, lingering where one
        is until it is free: (time standing, x, y); None when the shelf stays crowded."""
        _, x, y = person.path[-1]
        stand_y = spot.y_mm + self.rng.uniform(-50, 50)
        for attempt in range(20):
            want_x = spot.x_mm + self.rng.uniform(-60, 60)
            walk_ms = self._walk_ms((x, y), (want_x, stand_y), speed)
            begin = max(t + walk_ms, exact_t or 0) + attempt * 1_500
            stand_x = self.bookings.place(spot.shelf, want_x, begin, begin + dwell + 3_000, 450)
            if stand_x is None:
                continue
            depart = begin - self._walk_ms((x, y), (stand_x, stand_y), speed)
            if depart > t:
                person.path.append((depart, x, y))
                t = depart
            t = self._walk(person, t, (stand_x, stand_y), speed)
            person.path.append((t, stand_x, stand_y))
            return t, stand_x, stand_y
        return None

    def _walk_ms(self, start: tuple[float, float], end: tuple[float, float], speed: float) -> int:
        total, here = 0.0, start
        for waypoint in self._route(start, end):
            total += math.dist(here, waypoint)
            here = waypoint
        return int(total / speed)

    def _stop(
        self,
        person: Person,
        spot: LaneSpot,
        t: int,
        speed: float,
        behaviour: Behaviour,
        picks: list[int],
        exact_t: int | None,
    ) -> int:
        rng = self.rng
        reach_ms = rng.randint(900, 2_200)
        kind: Kind = "pick"
        if rng.random() < behaviour.look:
            kind = "look"
        rest = rng.random() < behaviour.rest
        if rest:
            reach_ms += rng.randint(2_000, 5_000)
        placed = self._go_stand(person, spot, t, speed, reach_ms + 1_800, exact_t)
        if placed is None:
            return t
        t, stand_x, stand_y = placed
        t0 = t + rng.randint(200, 600)
        t1 = t0 + reach_ms
        lanes: tuple[int, ...] = (spot.lane,)
        take: dict[int, int] = {}
        if kind == "pick" or rest:
            count = rng.choice((2, 2, 3)) if rng.random() < behaviour.multi else 1
            neighbour = (spot.shelf, spot.lane + 1)
            if count == 1 and rng.random() < behaviour.two_lanes and neighbour in self.layout.lane_spots:
                lanes = (spot.lane, spot.lane + 1)
                take = {spot.lane: 1, spot.lane + 1: 1}
            else:
                take = {spot.lane: count}
        if rest:
            taking = take.get(spot.lane, 0) if rng.random() < 0.6 else 0
            reach = Reach(
                person.id,
                person.session,
                spot.shelf,
                (spot.lane,),
                t0,
                t1,
                "rest",
                rest_mg=rng.randint(300_000, 1_500_000),
                rest_then_take=taking,
            )
        elif kind == "look":
            reach = Reach(person.id, person.session, spot.shelf, lanes, t0, t1, "look")
        else:
            reach = Reach(person.id, person.session, spot.shelf, lanes, t0, t1, "pick", take=take)
        person.reaches.append(reach)
        if reach.kind == "pick" or (reach.kind == "rest" and reach.rest_then_take):
            picks.append(len(person.reaches) - 1)
        t = t1 + rng.randint(300, 900)
        person.path.append((t, stand_x, stand_y))
        return t

    def _put(self, person: Person, spot: LaneSpot, pick_index: int, t: int, speed: float) -> int:
        rng = self.rng
        reach_ms = rng.randint(800, 1_800)
        placed = self._go_stand(person, spot, t, speed, reach_ms + 1_600)
        if placed is None:
            return t
        t, stand_x, stand_y = placed
        t0 = t + rng.randint(200, 500)
        t1 = t0 + reach_ms
        person.reaches.append(
            Reach(
                person.id,
                person.session,
                spot.shelf,
                (spot.lane,),
                t0,
                t1,
                "put",
                put_of=pick_index,
                put_lane=spot.lane,
            )
        )
        t = t1 + rng.randint(300, 800)
        person.path.append((t, stand_x, stand_y))
        return t


def _places(person: Person) -> Iterator[tuple[int, tuple[float, float]]]:
    """Where the person is at every SPACE_MS step of their visit."""
    start, end = person.path[0][0], person.path[-1][0]
    for t in range(start - start % SPACE_MS + SPACE_MS, end + 1, SPACE_MS):
        where = person.at(t)
        if where is not None:
            yield t, where

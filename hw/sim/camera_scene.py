"""A scripted scene at one shelf camera: shoppers walk up, stand, reach into lanes, and
walk off, with every reach written down as ground truth. It drives the `sim` camera source
and the camera benchmark until the store world of the fusion issue takes over.

Each visit: a shopper walks in from one end of the aisle, stops within arm's length of the
shelf, makes one to three reaches, sometimes leans their head close to a lane without
reaching, and walks on. A reach takes the lane's product (most often), puts one back, or
touches and leaves with nothing; one in ten sweeps on into the neighbouring lane. Passers-by
cross further out, some pushing carts, and shadows sometimes cross the shelf. Each scene
has its own light level, colour cast and gradient, and the light drifts slowly; a hand
darting in or out of a lane blurs. Two shoppers may be at the shelf at once, but never with reaches into the
same or neighbouring lanes at nearly the same time. Those would be one reach to any
camera, and to the ground truth they are two.

Pure: a function of the seed. `spec(t_ms)` is the frame at that time, `truth()` the reaches
and `people(t_ms)` where everyone in view stands.
"""

import bisect
import math
import random
from dataclasses import dataclass, replace
from typing import Generic, Literal, Protocol, TypeVar

from hw.sim.camera_dataset import random_person
from hw.sim.camera_render import HELD_OUT_TEXTURES, Cart, FrameSpec, Lighting, Person, Reach, Shadow, ShelfView
from hw.sim.world.drives import CameraDrive, Walk

WALK_MM_S = 1_100
MERGE_GUARD_MS = 700  # reaches of two shoppers this close in time are kept two lanes apart
FAST_MS = 200  # a hand entering or leaving a lane moves fast enough to blur for this long


@dataclass(frozen=True, slots=True)
class TrueReach:
    lanes: tuple[int, ...]  # lane ids, sorted
    t0: int  # the hand first in a lane's region
    t1: int  # the hand out of the last one
    holding: Literal["item", "none"]
    x_mm: int  # where the shopper stood
    y_mm: int


@dataclass(frozen=True, slots=True)
class _Move:
    """The hand in one lane: from t0 to t1, holding `item_in` until `swap`, then `item_out`."""

    lane_index: int
    t0: int
    t1: int
    swap: int
    across: float
    item_in: int | None
    item_out: int | None


@dataclass(frozen=True)
class _Visit:
    look: Person
    path: tuple[tuple[int, float, float], ...]  # (t_ms, x_mm, y_mm) waypoints, walked straight between
    moves: tuple[_Move, ...] = ()
    leans: tuple[tuple[int, int, int], ...] = ()  # (t0, t1, lane index)
    cart: bool = False

    @property
    def start(self) -> int:
        return self.path[0][0]

    @property
    def end(self) -> int:
        return self.path[-1][0]

    def where(self, t_ms: int) -> tuple[float, float]:
        for (ta, xa, ya), (tb, xb, yb) in zip(self.path, self.path[1:], strict=False):
            if ta <= t_ms <= tb:
                f = (t_ms - ta) / max(1, tb - ta)
                return xa + f * (xb - xa), ya + f * (yb - ya)
        return self.path[-1][1], self.path[-1][2]


class CameraScene:
    """A scene of its own, or, given a store world's drive, the world's people at this shelf
    (hw/sim/world/drives.py): then the world keeps the truth, and `truth()` is empty."""

    def __init__(
        self,
        view: ShelfView,
        seed: int,
        duration_ms: int,
        held_out: bool = False,
        visits_per_min: float = 5.0,
        drive: CameraDrive | None = None,
    ) -> None:
        self.view = view
        self.duration_ms = duration_ms
        rng = random.Random(seed)
        base = HELD_OUT_TEXTURES if held_out else 0
        self.products = tuple(base + rng.randrange(HELD_OUT_TEXTURES) for _ in view.lanes)
        self._gain = rng.uniform(0.65, 1.3)
        self._noise = rng.uniform(2.0, 7.0)
        self._cast = (rng.uniform(0.9, 1.1), rng.uniform(0.95, 1.05), rng.uniform(0.9, 1.1))
        self._gradient = rng.uniform(-0.35, 0.35)
        self._light_phase = rng.uniform(0, 2 * math.pi)
        self._seed = seed
        self._visits: list[_Visit] = []
        self._truth: list[TrueReach] = []
        self._shadows: list[tuple[int, int, float, float]] = []  # (t0, t1, v, radius) crossing left to right
        if drive is not None:
            self.products = tuple(drive.products)
            self._visits = [self._driven(rng, walk) for walk in drive.walks]
        else:
            self._invent(rng, duration_ms, visits_per_min)
        self._visits.sort(key=lambda v: v.start)
        self._starts = [v.start for v in self._visits]
        self._longest = max((v.end - v.start for v in self._visits), default=0)
        self._truth.sort(key=lambda r: (r.t0, r.lanes))

    def _driven(self, rng: random.Random, walk: Walk) -> _Visit:
        look = replace(random_person(rng, self.view, len(self.view.lanes), self.products), reach=None, lean_lane=None)
        moves = tuple(
            _Move(m.lane_index, m.t0, m.t1, (m.t0 + m.t1) // 2, rng.uniform(0.2, 0.8), m.item_in, m.item_out)
            for m in walk.moves
        )
        return _Visit(look, tuple((t, float(x), float(y)) for t, x, y in walk.path), moves)

    def _invent(self, rng: random.Random, duration_ms: int, visits_per_min: float) -> None:
        t = rng.randint(500, 3_000)
        while t < duration_ms - 20_000:
            self._add_visit(rng, t)
            t += round(rng.expovariate(visits_per_min / 60_000)) + 1_000
        t = rng.randint(0, 30_000)
        while t < duration_ms:
            self._add_passer(rng, t)
            t += round(rng.expovariate(3 / 60_000)) + 2_000
        t = rng.randint(0, 60_000)
        while t < duration_ms:
            self._shadows.append((t, t + rng.randint(1_500, 4_000), rng.uniform(20, 80), rng.uniform(20, 45)))
            t += round(rng.expovariate(1 / 60_000)) + 5_000

    def _lane_x(self, index: int) -> float:
        view = self.view
        return view.shelf_x_mm + (index + 0.5) * view.shelf_w_mm / len(view.lanes)

    def _add_visit(self, rng: random.Random, arrive: int) -> None:
        view = self.view
        lanes = len(view.lanes)
        look = random_person(rng, view, lanes, self.products)
        home = rng.randrange(lanes)
        x = self._lane_x(home) + rng.uniform(-150, 150)
        y = view.shelf_y_mm + rng.uniform(280, 450)
        side = view.shelf_x_mm - 500 if rng.random() < 0.5 else view.shelf_x_mm + view.shelf_w_mm + 500
        leave_to = view.shelf_x_mm - 500 if rng.random() < 0.5 else view.shelf_x_mm + view.shelf_w_mm + 500
        settle = arrive + round(1000 * abs(x - side) / WALK_MM_S)
        t = settle + rng.randint(300, 900)
        moves: list[_Move] = []
        leans: list[tuple[int, int, int]] = []
        for _ in range(rng.choice((1, 1, 2, 2, 3))):
            if rng.random() < 0.1:
                lean_end = t + rng.randint(500, 1_500)
                leans.append((t, lean_end, max(0, min(lanes - 1, home + rng.choice((-1, 0, 1))))))
                t = lean_end + rng.randint(400, 1_000)
            lane = max(0, min(lanes - 1, home + rng.choice((-1, 0, 0, 0, 1))))
            duration = rng.randint(600, 2_400)
            kind = rng.random()
            product = self.products[lane]
            item_in, item_out = (None, product) if kind < 0.6 else (product, None) if kind < 0.8 else (None, None)
            swap = t + round(duration * rng.uniform(0.4, 0.6))
            planned = [_Move(lane, t, t + duration, swap, rng.uniform(0.1, 0.9), item_in, item_out)]
            if rng.random() < 0.1:  # the hand sweeps on into the neighbouring lane, still holding what it holds
                nxt = lane + 1 if lane + 1 < lanes else lane - 1
                first = planned[0]
                middle = t + duration // 2
                planned = [
                    replace(first, t1=middle, swap=min(first.swap, middle)),
                    _Move(nxt, middle, t + duration, middle, rng.uniform(0.2, 0.8), item_out, item_out),
                ]
            if self._clear(planned):
                moves += planned
                end = planned[-1]
                self._truth.append(
                    TrueReach(
                        tuple(sorted({view.lanes[m.lane_index] for m in planned})),
                        planned[0].t0,
                        end.t1,
                        "item" if end.item_out is not None else "none",
                        round(x),
                        round(y),
                    )
                )
            t += duration + rng.randint(900, 3_000)
        depart = t + rng.randint(0, 800)
        gone = depart + round(1000 * abs(leave_to - x) / WALK_MM_S)
        path = ((arrive, side, y), (settle, x, y), (depart, x, y), (gone, leave_to, y))
        self._visits.append(_Visit(look, path, tuple(moves), tuple(leans), cart=rng.random() < 0.15))

    def _clear(self, planned: list[_Move]) -> bool:
        """No other shopper's hand in the same or a neighbouring lane near that time."""
        for visit in reversed(self._visits):  # shoppers, in the order they came
            if visit.start < planned[0].t0 - 120_000:  # nobody stays two minutes
                break
            for other in visit.moves:
                for move in planned:
                    near_in_time = move.t0 < other.t1 + MERGE_GUARD_MS and other.t0 < move.t1 + MERGE_GUARD_MS
                    if near_in_time and abs(move.lane_index - other.lane_index) <= 1:
                        return False
        return True

    def _add_passer(self, rng: random.Random, t: int) -> None:
        view = self.view
        look = random_person(rng, view, len(view.lanes), self.products)
        y = view.shelf_y_mm + rng.uniform(750, 1_450)
        a, b = view.shelf_x_mm - 500, view.shelf_x_mm + view.shelf_w_mm + 500
        if rng.random() < 0.5:
            a, b = b, a
        path = ((t, a, y), (t + round(1000 * abs(b - a) / WALK_MM_S), b, y))
        self._visits.append(_Visit(replace(look, reach=None, lean_lane=None), path, cart=rng.random() < 0.3))

    def truth(self) -> list[TrueReach]:
        return list(self._truth)

    def _present(self, t_ms: int) -> list[_Visit]:
        first = bisect.bisect_left(self._starts, t_ms - self._longest)
        last = bisect.bisect_right(self._starts, t_ms)
        return [v for v in self._visits[first:last] if v.start <= t_ms <= v.end]

    def people(self, t_ms: int) -> list[tuple[float, float]]:
        """Where everyone on the aisle floor stands at t_ms (in view or not)."""
        return [v.where(t_ms) for v in self._present(t_ms)]

    def spec(self, t_ms: int) -> FrameSpec:
        people, carts = [], []
        blur = 0
        for visit in self._present(t_ms):
            x, y = visit.where(t_ms)
            reach = None
            for move in visit.moves:
                if move.t0 <= t_ms < move.t1:
                    item = move.item_in if t_ms < move.swap else move.item_out
                    depth = 0.2 + 0.8 * math.sin(math.pi * (t_ms - move.t0) / max(1, move.t1 - move.t0))
                    reach = Reach(move.lane_index, move.across, depth, item)
                    if t_ms - move.t0 < FAST_MS or move.t1 - t_ms <= FAST_MS:
                        blur = 3  # the hand darting in or out smears across the exposure
            lean = next((lane for t0, t1, lane in visit.leans if t0 <= t_ms < t1), None)
            people.append(replace(visit.look, x_mm=x, y_mm=y, reach=reach, lean_lane=lean))
            if visit.cart:
                carts.append(Cart(x + 350, y + 550))
        shadows = tuple(
            Shadow(-50 + (self.view.width + 100) * (t_ms - t0) / (t1 - t0), v, radius)
            for t0, t1, v, radius in self._shadows
            if t0 <= t_ms < t1
        )
        gain = self._gain * (1.0 + 0.12 * math.sin(self._light_phase + 2 * math.pi * t_ms / 900_000))
        lighting = Lighting(gain=gain, cast=self._cast, gradient=self._gradient, noise=self._noise, blur=blur)
        return FrameSpec(self.products, tuple(people), tuple(carts), shadows, lighting, seed=self._seed * 7919 + t_ms)


def well_seen(person: tuple[float, float], everyone: list[tuple[float, float]]) -> bool:
    """Whether presence is scored on this person: standing where shoppers reach from, on the
    floor the reference mount sees best, with nobody within 700 mm to merge with."""
    x, y = person
    alone = all(math.dist(person, other) > 700 for other in everyone if other != person)
    return 100 <= x <= 1_100 and 200 <= y <= 600 and alone


class Detected(Protocol):
    @property
    def lanes(self) -> tuple[int, ...]: ...
    @property
    def t0(self) -> int: ...
    @property
    def t1(self) -> int: ...


D = TypeVar("D", bound=Detected)


@dataclass(frozen=True, slots=True)
class Scored(Generic[D]):
    matched: list[tuple[TrueReach, D]]
    missed: list[TrueReach]
    false: list[D]


def score(truth: list[TrueReach], found: list[D]) -> Scored[D]:
    """Pairs each true reach with the found one that shares a lane and overlaps it in time
    most closely in t0; what is left over on either side is missed or false."""
    left = list(found)
    matched = []
    missed = []
    for true in truth:
        candidates = [f for f in left if set(f.lanes) & set(true.lanes) and f.t0 < true.t1 and true.t0 < f.t1]
        if not candidates:
            missed.append(true)
            continue
        best = min(candidates, key=lambda f: abs(f.t0 - true.t0))
        left.remove(best)
        matched.append((true, best))
    return Scored(matched, missed, left)

"""Whole simulated store runs with their ground truth: the single-shopper suite (one
shopper in the store at a time, everyday behaviour) and the hard suite (a crowded store: pairs on one account,
groups at one shelf, put-backs to wrong lanes, the same-weight cans, several items at
once, resting hands, cameras dropping frames and shelf nodes cut off for 30 s).

`build_world` is deterministic in its seed; the fast path's message stream it returns is the
replay contract's input, so `storegw replay` and the fusion benchmark read it as they read
a journal export.
"""

import dataclasses
import random
from dataclasses import dataclass, field
from typing import Literal

from gateway.layout import StoreLayout
from hw.sim.world.plan import Behaviour, Planner, Visit
from hw.sim.world.sensors import SensorModel, emit_all
from hw.sim.world.store import Resolved, TrueReceipt, resolve
from hw.sim.world.stream import Line, Network, deliver

START_MS = 1_795_000_000_000  # 2026-11-18, a fixed morning for every run
Suite = Literal["single", "hard"]
HARD_GAP_MS = 15_000  # mean time between arrivals in the hard suite: four or five people inside

EVERYDAY = Behaviour()
HARD = Behaviour(
    stops=(1, 5), nothing=0.08, multi=0.25, two_lanes=0.08, put_back=0.25, wrong_lane=0.5,
    rest=0.06, look=0.08, pair=0.25, same_weight=0.3,
)  # fmt: skip


@dataclass
class World:
    layout: StoreLayout
    visits: list[Visit]
    lines: list[Line]
    truth: dict[str, TrueReceipt]
    start_ms: int
    end_ms: int
    model: SensorModel = field(default_factory=SensorModel)
    resolved: Resolved = field(default_factory=Resolved)  # what every hand really did


def build_world(layout: StoreLayout, suite: Suite, sessions: int, seed: int) -> World:
    rng = random.Random(seed)
    planner = Planner(layout, rng)
    visits: list[Visit] = []
    t = START_MS
    n = 0
    while n < sessions:
        if suite == "single":
            # one shopper in the store at a time: the next comes in after the last has left
            visits.append(planner.visit(f"acct-{n:05d}", t, EVERYDAY, people=1))
            t = visits[-1].people[0].left_ms + rng.randint(1_000, 6_000)
            n += 1
            continue
        if n % 12 == 5 and sessions - n >= 3:
            visits += _crowd(planner, rng, t, HARD, n)
            n += 3
        else:
            visits.append(planner.visit(f"acct-{n:05d}", t, HARD))
            n += 1
        t += max(1_500, int(rng.expovariate(1 / HARD_GAP_MS)))
    return assemble(layout, visits, rng, suite == "hard")


def plan_store(
    layout: StoreLayout, sessions: int, seed: int, gap_ms: tuple[int, int]
) -> tuple[list[Visit], Resolved, int]:
    """Everyday shoppers arriving `gap_ms` apart, with what really happened, for the full
    path (hw/sim/world/drives.py); and the world time the store opens at, a little before
    the first shopper."""
    rng = random.Random(seed)
    planner = Planner(layout, rng)
    visits: list[Visit] = []
    t = START_MS
    for n in range(sessions):
        visits.append(planner.visit(f"acct-{n:05d}", t, EVERYDAY, people=1))
        t += rng.randint(*gap_ms)
    return visits, resolve(layout, visits, rng), START_MS - 2_000


def _crowd(planner: Planner, rng: random.Random, t: int, behaviour: Behaviour, n: int) -> list[Visit]:
    """Three shoppers arriving together who make their first stop at one shelf at one time."""
    layout = planner.layout
    shelf = rng.choice(layout.shelves)
    lanes = rng.sample([slot.lane for slot in shelf.lanes], 3)
    meet = t + 9_000
    visits = []
    for k, lane in enumerate(lanes):
        spot = layout.lane_spots[(shelf.shelf, lane)]
        visits.append(planner.visit(f"acct-{n + k:05d}", t + k * 1_200, behaviour, crowd_at=(spot, meet), people=1))
    return visits


def assemble(
    layout: StoreLayout,
    visits: list[Visit],
    rng: random.Random,
    troubles: bool,
    model: SensorModel | None = None,
    network: Network | None = None,
) -> World:
    """Resolve the visits, sense them and deliver what the devices said; `troubles` adds
    camera frame drops (1-3 s, every few minutes per camera) and 30 s shelf outages."""
    start = min(p.path[0][0] for v in visits for p in v.people) - 2_000
    end = max(p.path[-1][0] for v in visits for p in v.people) + 5_000
    resolved = resolve(layout, visits, rng)
    model = model or SensorModel()
    network = network or Network()
    if troubles:
        drops = list(model.frame_drops)
        for camera in layout.cameras:
            at = start + rng.randint(0, 300_000)
            while at < end:
                drops.append((camera.node, at, at + rng.randint(1_000, 3_000)))
                at += rng.randint(120_000, 480_000)
        outages = list(network.outages)
        for shelf in layout.shelves:
            at = start + rng.randint(0, 1_200_000)
            while at < end:
                outages.append((shelf.shelf, at, at + 30_000))
                at += rng.randint(900_000, 2_400_000)
        model = dataclasses.replace(model, frame_drops=drops)
        network = dataclasses.replace(network, outages=outages)
    emitted = emit_all(layout, visits, resolved, model, rng, start, end)
    lines = deliver(layout.store, emitted, network, rng)
    return World(layout, visits, lines, resolved.receipts, start, end, model, resolved)

"""Where the fusion engine's wrong receipts come from, on the fast path: each wrong receipt
sorted by what went wrong in the store's true weight changes for its session.

    .venv/bin/python bench/fusion_misses.py --quick          # hard suite, 400 sessions
    .venv/bin/python bench/fusion_misses.py --suite single   # 2,000 sessions

Causes (a receipt may have several):
- another_session: one of the session's true changes was booked, all or in part, to
  another session only (the taker was wrong: a crowd at one shelf, or two tracks that
  swapped shoppers where they passed close);
- not_booked: one of its changes was booked to nobody; of these, late_weight counts the
  ones whose weight event arrived after the receipt was final (a shelf node cut off);
- product: every change was booked to the right session, yet the lines are wrong (the
  weight read as the wrong product or count, mostly items of nearly one weight, or a
  remembered misplaced item that was not the one taken).

The last line is one JSON object: wrong receipts, sessions, and the count per cause.
"""

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.fusion.model import FusedReceipt  # noqa: E402
from gateway.fusion.replay import replay  # noqa: E402
from gateway.layout import SMALL_STORE, load_layout  # noqa: E402
from hw.sim.world.store import LaneChange  # noqa: E402
from hw.sim.world.stream import encode_lines  # noqa: E402
from hw.sim.world.suites import Suite, World, build_world  # noqa: E402

SLACK_MS = 2_500  # a booked change this near a true one, on its lane, is taken to be it


def causes(world: World, receipts: list[FusedReceipt]) -> tuple[int, Counter[str]]:
    """How many receipts are wrong, and how many of those each cause touches."""
    got = {receipt.session: receipt for receipt in receipts}
    booked: dict[tuple[str, int], list[tuple[int, str]]] = defaultdict(list)
    for issued in receipts:
        for change in issued.changes:
            booked[(change.shelf, change.lane)].append((change.at_ms, issued.session))
    weight_recv: dict[tuple[str, int], list[tuple[int, int]]] = defaultdict(list)
    for line in world.lines:
        if line.msg["type"] == "weight":
            weight_recv[(line.msg["shelf"], line.msg["lane"])].append((line.msg["t0"], line.recv_ms))
    # a hand resting on a lane weighs on it and lifts again: nothing to book
    rests = [
        (reach.session, reach.shelf, reach.lanes[0], reach.t0, reach.t1, reach.rest_then_take)
        for visit in world.visits
        for person in visit.people
        for reach in person.reaches
        if reach.kind == "rest"
    ]
    true_on_lane: dict[tuple[str, int], list[LaneChange]] = defaultdict(list)
    for true_change in world.resolved.changes:
        true_on_lane[(true_change.shelf, true_change.lane)].append(true_change)
    resting: set[tuple[str, str, int, int]] = set()
    for session, shelf, lane, t0, t1, takes in rests:
        for true_change in true_on_lane[(shelf, lane)]:
            if t0 - 200 <= true_change.t0 <= t1 and (true_change.delta_mg > 0 or not takes):
                resting.add((session, shelf, lane, true_change.t0))
    by_session: dict[str, list[LaneChange]] = defaultdict(list)
    for true_change in world.resolved.changes:
        for session in true_change.sessions:
            if (session, true_change.shelf, true_change.lane, true_change.t0) not in resting:
                by_session[session].append(true_change)
    wrong = 0
    counts: Counter[str] = Counter()
    for session, truth in world.truth.items():
        receipt = got.get(session)
        if receipt is not None and dict(receipt.lines) == dict(truth.lines):
            continue
        wrong += 1
        found: set[str] = set()
        for true_change in by_session[session]:
            key = (true_change.shelf, true_change.lane)
            takers = {s for at, s in booked[key] if true_change.t0 - SLACK_MS <= at <= true_change.t1 + SLACK_MS}
            if takers == set(true_change.sessions):
                continue
            if takers:
                found.add("another_session")
                continue
            found.add("not_booked")
            sent = min(weight_recv[key], key=lambda entry: abs(entry[0] - true_change.t0), default=None)
            if sent is not None and receipt is not None and sent[1] > receipt.final_ms:
                found.add("late_weight")
        counts.update(found or {"product"})
    return wrong, counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", choices=("single", "hard"), default="hard")
    parser.add_argument("--quick", action="store_true", help="400 sessions")
    parser.add_argument("--sessions", type=int, help="sessions (default 2000, quick 400)")
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    suite: Suite = args.suite
    sessions = args.sessions or (400 if args.quick else 2_000)
    layout = load_layout(SMALL_STORE)
    world = build_world(layout, suite, sessions, args.seed)
    _, receipts = replay(layout, encode_lines(world.lines))
    wrong, counts = causes(world, receipts)
    print(f"{suite} suite, {sessions} sessions, seed {args.seed}: {wrong} receipts wrong")
    for cause, n in counts.most_common():
        print(f"  {cause:16} {n:5}  ({n / max(1, wrong):.0%} of the wrong)")
    print(json.dumps({"suite": suite, "seed": args.seed, "sessions": len(world.truth), "wrong": wrong, **counts}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Fusion accuracy and speed on the fast path: the simulated store world's device messages
through the replay contract (`gateway.fusion.replay`, what `storegw replay` runs), scored
against the world's ground truth.

    .venv/bin/python bench/fusion.py --quick    # under 60 s
    .venv/bin/python bench/fusion.py            # 2,000 sessions per suite and seed

Suites (hw/sim/world/suites.py), each run with a fixed seed and a fresh one (printed):
- single: one shopper in the store at a time, everyday behaviour (several items at once,
  put-backs, some to a wrong lane, reaches that take nothing);
- hard: a crowded store: pairs on one account, three shoppers meeting at one shelf,
  put-backs to wrong lanes picked up later by others, the same-weight cans, several items
  at once, hands resting on shelves, cameras dropping frames, shelf nodes cut off for 30 s.
Sensor error rates are the ones the device benchmarks measured (hw/sim/world/sensors.py).

Figures:
- exact_single, exact_hard: the share of true sessions whose receipt lists exactly the
  right products and counts (a missing receipt is wrong);
- item_f1: per session and product, matched items min(got, true), over both suites;
- review_rate: receipts flagged for review, over both suites;
- receipt_after_exit_p99_ms: from the last person's true passage out to the receive time
  at which the engine made the receipt final, in store time, over both suites; a receipt
  waits for a shelf that is cut off (its reach seen, its weight not yet), so the hard
  suite's 30 s outages set this figure. receipt_after_exit_p99_ms_single is the same over
  the single suite alone, which has no outages, for what a shopper sees on a normal day;
- replay_msgs_per_s: messages replayed per second of the replaying process's CPU time
  (JSON decoding included), one core.
"""

import argparse
import json
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._scoring import percentile  # noqa: E402
from gateway.fusion.replay import replay  # noqa: E402
from gateway.layout import SMALL_STORE, load_layout  # noqa: E402
from hw.sim.world.stream import encode_lines  # noqa: E402
from hw.sim.world.suites import Suite, build_world  # noqa: E402

FIXED_SEEDS = {"single": 11, "hard": 12}


@dataclass
class Run:
    suite: str
    seed: int
    sessions: int
    receipts: int
    exact: int
    tp: int
    fp: int
    fn: int
    reviewed: int
    latencies: list[int]
    messages: int
    cpu_s: float
    build_s: float
    extra_sessions: int


def run(suite: Suite, sessions: int, seed: int) -> Run:
    layout = load_layout(SMALL_STORE)
    built = time.perf_counter()
    world = build_world(layout, suite, sessions, seed)
    lines = encode_lines(world.lines)
    built = time.perf_counter() - built
    cpu = time.process_time()
    _, receipts = replay(layout, lines)
    cpu = time.process_time() - cpu
    got = {receipt.session: receipt for receipt in receipts}
    exact = tp = fp = fn = 0
    latencies = []
    for session, truth in world.truth.items():
        receipt = got.get(session)
        lines_got = dict(receipt.lines) if receipt else {}
        lines_true = dict(truth.lines)
        exact += receipt is not None and lines_got == lines_true
        for sku in lines_got.keys() | lines_true.keys():
            matched = min(lines_got.get(sku, 0), lines_true.get(sku, 0))
            tp += matched
            fp += lines_got.get(sku, 0) - matched
            fn += lines_true.get(sku, 0) - matched
        if receipt is not None:
            latencies.append(receipt.final_ms - truth.closed_ms)
    return Run(
        suite, seed, len(world.truth), len(receipts), exact, tp, fp, fn, sum(r.review for r in receipts),
        latencies, len(lines), cpu, built, len(got.keys() - world.truth.keys()),
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="400 sessions per suite and seed")
    parser.add_argument("--sessions", type=int, help="sessions per suite and seed (default 2000, quick 400)")
    parser.add_argument("--seed", type=int, help="the fresh seed (default: a new one every run)")
    args = parser.parse_args()
    sessions = args.sessions or (400 if args.quick else 2_000)
    fresh = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    jobs = [(suite, sessions, seed) for suite in ("single", "hard") for seed in (FIXED_SEEDS[suite], fresh)]
    print(f"{sessions} sessions per suite and seed; fixed seeds {FIXED_SEEDS}, fresh seed {fresh}", flush=True)
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = pool.starmap(run, jobs)
    for r in results:
        print(
            f"{r.suite:6} seed {r.seed:>10}: exact {r.exact}/{r.sessions}, reviewed {r.reviewed}, "
            f"extra sessions {r.extra_sessions}, {r.messages} messages "
            f"(world {r.build_s:.1f} s, replay {r.cpu_s:.1f} s CPU)"
        )
    single = [r for r in results if r.suite == "single"]
    hard = [r for r in results if r.suite == "hard"]
    tp, fp, fn = (sum(getattr(r, key) for r in results) for key in ("tp", "fp", "fn"))
    figures = {
        "exact_single": round(sum(r.exact for r in single) / sum(r.sessions for r in single), 4),
        "exact_hard": round(sum(r.exact for r in hard) / sum(r.sessions for r in hard), 4),
        "item_f1": round(2 * tp / max(1, 2 * tp + fp + fn), 4),
        "review_rate": round(sum(r.reviewed for r in results) / max(1, sum(r.receipts for r in results)), 4),
        "receipt_after_exit_p99_ms": int(percentile([float(x) for r in results for x in r.latencies], 0.99)),
        "receipt_after_exit_p99_ms_single": int(percentile([float(x) for r in single for x in r.latencies], 0.99)),
        "replay_msgs_per_s": int(sum(r.messages for r in results) / sum(r.cpu_s for r in results)),
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Shelf event detection: precision, recall, delta error and latency on simulated lanes,
false events on quiet lanes, and the detector's CPU cost at 16 lanes x 80 SPS.

    .venv/bin/python bench/shelf_events.py --quick    # under 60 s
    .venv/bin/python bench/shelf_events.py            # longer

Activity (hw/sim/shelf_activity.py): 16 lanes at 10 SPS, 1 g noise, unit weights 20 g to
2 kg, picks and put-backs of 1-3 items with a trembling hand, slow picks, hands resting for
seconds, bumps from the neighbouring lane, creep. Lanes are independent, so changes overlap
across lanes. At least 10,000 changes in either mode.

Scoring: per lane, each true change is matched to the first unmatched detected event with
the same sign whose settle time (t1) lies within -0.5 s .. +1.5 s of the true settle time.
precision = matched / detected, recall = matched / true; delta error = |detected - true
delta| of matched events; latency after settle = when the detector reported the event
minus the true settle time. False events: every event on lanes with 24 simulated hours of
noise and drift (2 g/h) and nobody at them. CPU: process time of the detector alone over
simulated time, 16 lanes at 80 SPS (noise 2 g, as the HX711 is noisier at 80 SPS).
"""

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge.shelf.detector import DetectorConfig, LaneDetector, ShelfDetector, WeightChange  # noqa: E402
from hw.sim.shelf_activity import ActivityConfig, Lane, TrueChange  # noqa: E402

LANES = 16


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def detect(lane: Lane, duration_s: float, rate: int, config: DetectorConfig) -> list[tuple[WeightChange, int]]:
    detector = LaneDetector(lane.lane, config)
    found = []
    for t, weight in lane.samples(duration_s, rate):
        change = detector.add(t, weight)
        if change is not None:
            found.append((change, t))
    return found


def score(truth: list[TrueChange], found: list[tuple[WeightChange, int]]) -> tuple[int, list[float], list[float]]:
    matched = 0
    errors: list[float] = []
    latencies: list[float] = []
    used = [False] * len(found)
    for true in truth:
        for i, (change, emitted) in enumerate(found):
            if used[i] or (change.delta_mg > 0) != (true.delta_mg > 0):
                continue
            if -500 <= change.t1 - true.t_settle_ms <= 1500:
                used[i] = True
                matched += 1
                errors.append(abs(change.delta_mg - true.delta_mg))
                latencies.append(emitted - true.t_settle_ms)
                break
    return matched, errors, latencies


def activity(duration_s: float, seed: int) -> dict[str, float]:
    config = DetectorConfig()
    rng = random.Random(seed)
    truth_total = detected_total = matched_total = 0
    errors: list[float] = []
    latencies: list[float] = []
    for index in range(LANES):
        lane = Lane(index, ActivityConfig(), random.Random(rng.random()))
        found = detect(lane, duration_s, 10, config)
        matched, lane_errors, lane_latencies = score(lane.truth, found)
        truth_total += len(lane.truth)
        detected_total += len(found)
        matched_total += matched
        errors += lane_errors
        latencies += lane_latencies
    return {
        "changes": truth_total,
        "precision": matched_total / detected_total if detected_total else 0.0,
        "recall": matched_total / truth_total if truth_total else 0.0,
        "delta_err_p99_mg": percentile(errors, 0.99),
        "latency_after_settle_p99_ms": percentile(latencies, 0.99),
    }


def quiet(lane_days: int, seed: int) -> float:
    config = DetectorConfig()
    events = 0
    for index in range(lane_days):
        lane = Lane(index, ActivityConfig(quiet=True, drift_mg_per_h=2_000), random.Random(seed + index))
        events += len(detect(lane, 24 * 3600, 10, config))
    return events / lane_days


def cpu_fraction(seconds: float, seed: int) -> float:
    config = DetectorConfig(period_ms=12.5, noise_mg=2_000)
    rng = random.Random(seed)
    lanes = [Lane(i, ActivityConfig(noise_mg=2_000), random.Random(rng.random())) for i in range(LANES)]
    streams = [list(lane.samples(seconds, 80)) for lane in lanes]
    shelf = ShelfDetector(list(range(LANES)), config)
    ticks = [{lane: streams[lane][n][1] for lane in range(LANES)} for n in range(len(streams[0]))]
    times = [streams[0][n][0] for n in range(len(streams[0]))]
    started = time.process_time()
    for t, weights in zip(times, ticks, strict=True):
        shelf.add(t, weights)
    return (time.process_time() - started) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="finish within 60 s")
    parser.add_argument("--seed", type=int, default=None, help="fixed seed (default: a fresh one, printed)")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
    duration, lane_days, cpu_seconds = (7_200, 2, 20) if args.quick else (14_400, 16, 120)
    print(f"seed {seed}; {LANES} lanes x {duration} s of activity; {lane_days} quiet lane-days", flush=True)
    started = time.monotonic()
    figures = activity(duration, seed)
    print(
        f"activity: {figures['changes']} true changes, precision {figures['precision']:.4f}, "
        f"recall {figures['recall']:.4f}, delta err p99 {figures['delta_err_p99_mg']:.0f} mg, "
        f"latency after settle p99 {figures['latency_after_settle_p99_ms']:.0f} ms",
        flush=True,
    )
    false_per_day = quiet(lane_days, seed)
    print(f"quiet: {false_per_day:.2f} false events per lane-day over {lane_days} lane-days", flush=True)
    cpu = cpu_fraction(cpu_seconds, seed)
    print(f"cpu: {cpu:.4f} of one core for 16 lanes at 80 SPS; run took {time.monotonic() - started:.1f} s")
    result = {
        "precision": round(figures["precision"], 5),
        "recall": round(figures["recall"], 5),
        "delta_err_p99_mg": round(figures["delta_err_p99_mg"]),
        "latency_after_settle_p99_ms": round(figures["latency_after_settle_p99_ms"]),
        "false_events_per_lane_day": round(false_per_day, 3),
        "cpu_fraction_16_lanes_80sps": round(cpu, 4),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()

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

Chain: the same activity on 4 lanes, through the whole path in simulated time. Lane loads
drive load cells (hw/sim/load_cell.py, the store's temperature swinging 2 C a day) and
HX711 chip models (hw/sim/hx711.py) sharing one clock line, read bit by bit as the board
firmware reads them; the words are framed as the board frames them, with a garbage line
every 500 frames, decoded and mapped to the node's clock by the `mcu` source's own code
(edge/shelf/mcu_protocol.py), weighed with the cell's nominal calibration, then detected.
The detector-only figures for the same 4 lanes are printed beside them.
"""

import argparse
import json
import math
import random
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._scoring import percentile  # noqa: E402
from edge.shelf.detector import DetectorConfig, LaneDetector, ShelfDetector, WeightChange  # noqa: E402
from edge.shelf.mcu_protocol import BoardClock, BoardFrame, FrameDecoder, encode_frame  # noqa: E402
from hw.sim.hx711 import PERIOD_NS, Hx711Chip  # noqa: E402
from hw.sim.load_cell import LoadCell  # noqa: E402
from hw.sim.shelf_activity import ActivityConfig, Lane, TrueChange  # noqa: E402

LANES = 16
CHAIN_LANES = 4
WALL_BASE_MS = 1_790_000_000_000


def detect(lane: int, samples: Iterable[tuple[int, int]], config: DetectorConfig) -> list[tuple[WeightChange, int]]:
    """Every change the detector reports, with the sample time it reported it at."""
    detector = LaneDetector(lane, config)
    found = []
    for t, weight in samples:
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


def totals(lanes: list[Lane], found: list[list[tuple[WeightChange, int]]]) -> dict[str, float]:
    """Every lane's events scored against its truth, added up."""
    truth = detected = matched = 0
    errors: list[float] = []
    latencies: list[float] = []
    for lane, events in zip(lanes, found, strict=True):
        lane_matched, lane_errors, lane_latencies = score(lane.truth, events)
        truth, detected, matched = truth + len(lane.truth), detected + len(events), matched + lane_matched
        errors += lane_errors
        latencies += lane_latencies
    return {
        "changes": truth,
        "precision": matched / detected if detected else 0.0,
        "recall": matched / truth if truth else 0.0,
        "delta_err_p99_mg": percentile(errors, 0.99),
        "latency_after_settle_p99_ms": percentile(latencies, 0.99),
    }


def activity(duration_s: float, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    lanes = [Lane(index, ActivityConfig(), random.Random(rng.random())) for index in range(LANES)]
    return totals(lanes, [detect(lane.lane, lane.samples(duration_s, 10), DetectorConfig()) for lane in lanes])


def quiet(lane_days: int, seed: int) -> float:
    config = DetectorConfig()
    events = 0
    for index in range(lane_days):
        lane = Lane(index, ActivityConfig(quiet=True, drift_mg_per_h=2_000), random.Random(seed + index))
        events += len(detect(index, lane.samples(24 * 3600, 10), config))
    return events / lane_days


class ChainBoard:
    """HX711 models on one shared clock line, read like the board firmware reads them, in
    simulated time: each read waits for every chip, then 25 pulses of 1 us high, 1 us low."""

    def __init__(self, loads: list[list[int]], seed: int) -> None:
        self.now_ns = 0
        cell = LoadCell()
        period = PERIOD_NS[10]

        def volts(lane: int) -> Callable[[str, int], float]:
            def at(channel: str, t_ns: int) -> float:
                temp_c = 20.0 + math.sin(2 * math.pi * t_ns / 86_400e9)
                load = loads[lane][min(len(loads[lane]) - 1, t_ns // period)]
                return cell.volts(load, temp_c) if channel == "A" else 0.0

            return at

        self.calibration = cell.nominal_calibration()
        self.chips = [Hx711Chip(volts(i), 10, seed=seed + i, clock=lambda: self.now_ns) for i in range(len(loads))]

    def read(self) -> list[int | None]:
        while any(chip.dout() for chip in self.chips):
            self.now_ns += 5_000_000
        words = [0] * len(self.chips)
        for pulse in range(25):
            for chip in self.chips:
                chip.sck(True)
            self.now_ns += 1_000
            for chip in self.chips:
                chip.sck(False)
            self.now_ns += 1_000
            if pulse < 24:
                words = [(w << 1) | chip.dout() for w, chip in zip(words, self.chips, strict=True)]
        return [None if w in (0x7FFFFF, 0x800000, 0xFFFFFF) else w - (w >> 23 << 24) for w in words]


def chain(duration_s: float, seed: int) -> dict[str, float]:
    """Through cells, chips, framing, decoding, clock mapping and calibration; then the
    detector alone on the same lanes, for comparison."""
    rng = random.Random(seed)
    lanes = [Lane(i, ActivityConfig(), random.Random(rng.random())) for i in range(CHAIN_LANES)]
    loads = [[weight for _, weight in lane.samples(duration_s, 10)] for lane in lanes]
    board = ChainBoard(loads, seed)
    decoder, clock, delay = FrameDecoder(), BoardClock(), random.Random(seed)
    detectors = [LaneDetector(i, DetectorConfig()) for i in range(CHAIN_LANES)]
    found: list[list[tuple[WeightChange, int]]] = [[] for _ in range(CHAIN_LANES)]
    frames = 0
    while board.now_ns < duration_s * 1e9 - 1e9:
        board_ms = board.now_ns // 1_000_000
        line = encode_frame(frames, board_ms, list(board.read()))
        frames += 1
        if frames % 500 == 0:
            line = b"\x00\xffS,1,2,3*deadbeef\n" + line[: len(line) // 2] + b"\n" + line
        for item in decoder.feed(line):
            assert isinstance(item, BoardFrame)
            t = clock.to_wall(item.board_ms, WALL_BASE_MS + item.board_ms + delay.randint(1, 8)) - WALL_BASE_MS
            for lane, count in enumerate(item.counts):
                if count is None:
                    continue
                change = detectors[lane].add(t, board.calibration.weight_mg(count))
                if change is not None:
                    found[lane].append((change, t))
    direct = [detect(i, [(n * 100, w) for n, w in enumerate(loads[i])], DetectorConfig()) for i in range(CHAIN_LANES)]
    return {
        "frames": frames,
        "garbage": decoder.garbage,
        **{f"chain_{key}": value for key, value in totals(lanes, found).items()},
        **{f"direct_{key}": value for key, value in totals(lanes, direct).items()},
    }


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
    duration, lane_days, cpu_seconds, chain_s = (7_200, 2, 20, 1_200) if args.quick else (14_400, 16, 120, 7_200)
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
    print(f"cpu: {cpu:.4f} of one core for 16 lanes at 80 SPS", flush=True)
    through = chain(chain_s, seed)
    print(
        f"chain: {CHAIN_LANES} lanes x {chain_s} s, {through['frames']} frames, {through['garbage']} garbage lines "
        f"dropped; {through['chain_changes']} true changes; through cells, HX711s and serial: precision "
        f"{through['chain_precision']:.4f}, recall {through['chain_recall']:.4f}, delta err p99 "
        f"{through['chain_delta_err_p99_mg']:.0f} mg; detector alone: precision {through['direct_precision']:.4f}, "
        f"recall {through['direct_recall']:.4f}, delta err p99 {through['direct_delta_err_p99_mg']:.0f} mg"
    )
    print(f"run took {time.monotonic() - started:.1f} s")
    result = {
        "precision": round(figures["precision"], 5),
        "recall": round(figures["recall"], 5),
        "delta_err_p99_mg": round(figures["delta_err_p99_mg"]),
        "latency_after_settle_p99_ms": round(figures["latency_after_settle_p99_ms"]),
        "false_events_per_lane_day": round(false_per_day, 3),
        "cpu_fraction_16_lanes_80sps": round(cpu, 4),
        "chain_precision": round(through["chain_precision"], 5),
        "chain_recall": round(through["chain_recall"], 5),
        "chain_delta_err_p99_mg": round(through["chain_delta_err_p99_mg"]),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()

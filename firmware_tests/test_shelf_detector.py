"""The lane event detector on synthetic traces: 10 SPS, 1 g noise."""

import random
from collections.abc import Callable

import pytest

from edge.shelf.detector import DetectorConfig, LaneDetector, ShelfDetector, WeightChange

CONFIG = DetectorConfig()
G = 1_000  # mg


def trace(
    seconds: float, level: Callable[[float], float], seed: int = 1, noise_mg: float = 1_000
) -> list[tuple[int, int]]:
    """(t_ms, weight_mg) at 10 SPS: the true level plus Gaussian sensor noise."""
    rng = random.Random(seed)
    return [(n * 100, round(level(n / 10) + rng.gauss(0, noise_mg))) for n in range(int(seconds * 10))]


def run(samples: list[tuple[int, int]], lane: int = 0) -> tuple[list[WeightChange], list[int]]:
    detector = LaneDetector(lane, CONFIG)
    changes, emitted_at = [], []
    for t, w in samples:
        change = detector.add(t, w)
        if change is not None:
            changes.append(change)
            emitted_at.append(t)
    return changes, emitted_at


def hand(start: float, end: float, swing_g: float, seed: int = 9) -> Callable[[float], float]:
    """A hand in the lane: pressing and trembling by tens of grams."""
    rng = random.Random(seed)
    return lambda t: rng.uniform(-swing_g, swing_g) * G if start <= t < end else 0.0


def test_a_pick_is_one_event_with_the_right_delta_and_span() -> None:
    jitter = hand(10, 11.5, 60)
    changes, emitted = run(trace(20, lambda t: (1_000 - (350 if t >= 11.5 else 0)) * G + jitter(t)))
    assert len(changes) == 1
    change = changes[0]
    assert abs(change.delta_mg + 350 * G) < 2 * G
    assert abs(change.before_mg - 1_000 * G) < G and abs(change.after_mg - 650 * G) < G
    assert 9_900 <= change.t0 <= 10_200 and 11_500 <= change.t1 <= 11_800
    assert emitted[0] - change.t1 <= CONFIG.stable_ms, "reported within one stability window of settling"
    assert 500 <= change.noise_mg <= 2_000


def test_a_put_back_is_positive() -> None:
    jitter = hand(5, 6, 40)
    changes, _ = run(trace(12, lambda t: (500 + (120 if t >= 6 else 0)) * G + jitter(t)))
    assert [round(c.delta_mg / G) for c in changes] == [120]


def test_a_single_spike_is_not_an_event() -> None:
    samples = trace(10, lambda t: 800 * G)
    samples[50] = (samples[50][0], samples[50][1] + 400 * G)
    assert run(samples)[0] == []


def test_single_wrong_words_neither_make_events_nor_skew_a_pick() -> None:
    """A desynchronised read gives a plausible but wrong word (twice or a quarter of the
    value): alone, it never starts a span, and no stability window that holds it is stable."""
    samples = trace(30, lambda t: (1_000 - (350 if t >= 15 else 0)) * G)
    for n, factor in [(40, 2.0), (90, 0.25), (152, 2.0), (156, 0.25), (160, 2.0), (250, 0.25)]:
        samples[n] = (samples[n][0], round(samples[n][1] * factor))
    changes, _ = run(samples)
    assert [round(c.delta_mg / G) for c in changes] == [-350]
    assert abs(changes[0].delta_mg + 350 * G) < G


def test_a_bump_from_the_neighbouring_lane_is_absorbed() -> None:
    bump = hand(4, 5, 25)
    assert run(trace(10, lambda t: 800 * G + bump(t)))[0] == []


def test_a_slow_pick_is_still_one_event() -> None:
    def level(t: float) -> float:
        return (900 - min(max(t - 3, 0), 4) / 4 * 200) * G  # 200 g eased out over 4 s

    changes, _ = run(trace(12, level))
    assert len(changes) == 1 and abs(changes[0].delta_mg + 200 * G) < 2 * G


@pytest.mark.parametrize(("grams", "seconds"), [(-20, 4.0), (24, 4.0), (-45, 4.0), (30, 2.5)])
def test_a_light_item_eased_out_slowly_is_one_event_not_slices(grams: int, seconds: float) -> None:
    """20 g eased out over 4 s moves 3.5 g per stability window, less than the band: a window
    in the middle of the slide fits the band. It must not settle there (one event split in
    two, or slices below the minimum that vanish into drift)."""
    start, end = 3.0, 3.0 + seconds

    def level(t: float) -> float:
        return (700 + grams * min(max(t - start, 0), seconds) / seconds) * G

    for seed in range(1, 6):
        changes, emitted = run(trace(end + 4, level, seed))
        assert len(changes) == 1, f"seed {seed}: {[round(c.delta_mg / G, 1) for c in changes]}"
        assert abs(changes[0].delta_mg - grams * G) < 2 * G, f"seed {seed}"
        assert end * 1000 - 300 <= changes[0].t1 <= end * 1000 + 700, "settles where the slide ends"
        assert emitted[0] - end * 1000 <= 2 * CONFIG.stable_ms


def test_a_hand_resting_on_the_shelf_does_not_make_events_of_its_own() -> None:
    rest = hand(3, 9, 30)  # a hand leaning on the lane for 6 s, then taking an item as it lifts

    def level(t: float) -> float:
        return (600 + (40 if 3 <= t < 9 else 0) - (90 if t >= 9 else 0)) * G + rest(t)

    changes, _ = run(trace(14, level))
    assert [round(c.delta_mg / G) for c in changes] == [-90]


def test_several_items_in_one_grab_are_one_event_of_their_sum() -> None:
    grab = hand(2, 3, 80)
    changes, _ = run(trace(8, lambda t: (1_500 - (3 * 330 if t >= 3 else 0)) * G + grab(t)))
    assert len(changes) == 1 and abs(changes[0].delta_mg + 990 * G) < 2 * G


def test_lanes_moving_at_once_are_detected_independently() -> None:
    shelf = ShelfDetector([0, 1, 2], CONFIG)
    first, second = hand(3, 4, 50, 1), hand(3.3, 4.2, 40, 2)
    a, b, c = (
        trace(10, lambda t: (700 - (250 if t >= 4 else 0)) * G + first(t), 1),
        trace(10, lambda t: (400 + (60 if t >= 4.2 else 0)) * G + second(t), 2),
        trace(10, lambda t: 300 * G, 3),
    )
    changes: list[WeightChange] = []
    for (t, wa), (_, wb), (_, wc) in zip(a, b, c, strict=True):
        changes += shelf.add(t, {0: wa, 1: wb, 2: wc})
    assert sorted((c.lane, round(c.delta_mg / G)) for c in changes) == [(0, -250), (1, 60)]
    assert [lane for lane, _ in shelf.telemetry()] == [0, 1, 2]


@pytest.mark.parametrize("drift_g_per_h", [0.0, 5.0, -8.0])
def test_a_quiet_day_with_drift_makes_no_events(drift_g_per_h: float) -> None:
    detector = LaneDetector(0, CONFIG)
    rng = random.Random(5)
    events = 0
    for n in range(24 * 3600 * 10):
        t = n / 10
        weight = round((2_000 + drift_g_per_h * t / 3600) * G + rng.gauss(0, G))
        events += detector.add(n * 100, weight) is not None
    assert events == 0
    assert detector.baseline is not None
    assert abs(detector.baseline - (2_000 + drift_g_per_h * 24) * G) < 2 * G, "zero tracking followed the drift"


def test_drift_adds_up_until_the_lane_is_reported_drifted_but_events_never_count() -> None:
    shelf = ShelfDetector([0, 1], CONFIG)
    rng = random.Random(8)
    events = []
    for n in range(3600 * 10):  # one hour: lane 0 drifts by 80 g, lane 1 loses 250 g in one pick
        t = n / 10
        drifting = round((1_000 + 80 * t / 3600) * G + rng.gauss(0, G))
        picked = round((1_500 - (250 if t >= 1_800 else 0)) * G + rng.gauss(0, G))
        events += shelf.add(n * 100, {0: drifting, 1: picked})
    assert [(c.lane, round(c.delta_mg / G)) for c in events] == [(1, -250)]
    assert abs(shelf.lanes[0].drift_mg - 80 * G) < 3 * G
    assert abs(shelf.lanes[1].drift_mg) < 3 * G
    assert shelf.drifted() == [0]

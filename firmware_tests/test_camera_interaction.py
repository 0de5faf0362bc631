"""Lane interactions from synthetic model scores: 10 fps unless a test says otherwise."""

from collections.abc import Callable

from edge.camera.interaction import InteractionConfig, InteractionTracker, LaneScores, Reach

CONFIG = InteractionConfig()
ITEM = (0.1, 0.85)  # (P(hand), P(hand holding an item)): a hand carrying something
HAND = (0.85, 0.1)  # an empty hand
HALF = (0.45, 0.45)  # the model cannot tell
Hand = tuple[float, float]
Reacher = Callable[[int], tuple[int, int] | None]


def frames(hands: list[tuple[int, int, int, Hand]], until: int, step: int = 100) -> list[tuple[int, list[LaneScores]]]:
    """Frames every step ms up to `until`; (lane, start, end, hand) shows that hand in the lane for start <= t < end."""
    return [(t, scores_at(t, hands)) for t in range(0, until, step)]


def scores_at(t: int, hands: list[tuple[int, int, int, Hand]]) -> list[LaneScores]:
    shown = {lane: hand for lane, start, end, hand in hands if start <= t < end}
    return [LaneScores(lane, 1 - sum(hand), *hand) for lane, hand in shown.items()]


def run(
    timeline: list[tuple[int, list[LaneScores]]],
    lanes: list[int] | None = None,
    config: InteractionConfig = CONFIG,
    reacher: Reacher = lambda t: None,
    flush_at: int | None = None,
) -> list[tuple[int, Reach]]:
    """(emitted at, reach) for every reach the tracker reports, flushing at the end when asked."""
    tracker = InteractionTracker(lanes if lanes is not None else [0, 1, 2, 3], config)
    out = [(t, reach) for t, scores in timeline for reach in tracker.add(t, scores, everywhere(reacher(t)))]
    if flush_at is not None:
        out += [(flush_at, reach) for reach in tracker.flush(flush_at)]
    return out


def everywhere(position: tuple[int, int] | None) -> dict[int, tuple[int, int]]:
    """The same reacher for every lane (these tests have one shopper), or nobody."""
    return {} if position is None else {lane: position for lane in range(8)}


def reaches(
    timeline: list[tuple[int, list[LaneScores]]],
    lanes: list[int] | None = None,
    config: InteractionConfig = CONFIG,
    reacher: Reacher = lambda t: None,
) -> list[Reach]:
    """Every reach, whether the timeline completes it or only the flush after its last frame does."""
    return [reach for _, reach in run(timeline, lanes, config, reacher, flush_at=timeline[-1][0] + 1)]


def test_a_clean_reach_is_one_reach_on_the_right_frames() -> None:
    # The three-frame median answers one frame late, both ways, and the times are put back by one frame.
    out = run(frames([(2, 500, 1000, ITEM)], until=2000))
    assert out == [(1400, Reach((2,), 500, 1000, "item", 950, 0, 0, False))], "emitted merge_gap_ms after t1"


def test_a_one_frame_flicker_is_nothing() -> None:
    assert reaches(frames([(1, 500, 600, ITEM)], until=2000)) == []


def test_hysteresis_keeps_a_span_open_through_a_dip_to_one_half() -> None:
    dip = (0.3, 0.2)
    out = reaches(frames([(0, 500, 1000, HAND), (0, 1000, 1600, dip), (0, 1600, 2000, HAND)], until=3000))
    assert [(r.t0, r.t1) for r in out] == [(500, 2000)]
    assert 500 < out[0].conf_pm < 950


def test_a_hand_sweeping_across_two_lanes_is_one_reach() -> None:
    out = reaches(frames([(1, 500, 1000, ITEM), (2, 900, 1500, HAND)], until=2500))
    assert len(out) == 1
    assert (out[0].lanes, out[0].t0, out[0].t1) == ((1, 2), 500, 1500)
    assert out[0].holding == "none", "what it held where it left last"


def test_neighbouring_lanes_touching_within_the_merge_gap_are_one_reach() -> None:
    out = reaches(frames([(1, 500, 1000, HAND), (2, 1200, 1600, ITEM)], until=2500))
    assert [(r.lanes, r.t0, r.t1, r.holding) for r in out] == [((1, 2), 500, 1600, "item")]


def test_a_sweep_over_three_lanes_joins_the_outer_two() -> None:
    out = reaches(frames([(1, 500, 900, ITEM), (2, 800, 1200, ITEM), (3, 1100, 1500, ITEM)], until=2500))
    assert [r.lanes for r in out] == [(1, 2, 3)]


def test_two_shoppers_on_lanes_apart_are_two_reaches() -> None:
    out = run(frames([(0, 500, 1000, ITEM), (3, 600, 1200, HAND)], until=2500))
    assert [(t, r.lanes, r.t0, r.t1, r.holding) for t, r in out] == [
        (1400, (0,), 500, 1000, "item"),
        (1600, (3,), 600, 1200, "none"),
    ]


def test_a_flicker_between_two_shoppers_does_not_join_them() -> None:
    config = InteractionConfig(min_ms=250)  # a two-frame span lasts 200 ms
    out = reaches(frames([(1, 500, 1500, ITEM), (2, 800, 1000, ITEM), (3, 500, 1500, ITEM)], until=2500), config=config)
    assert [r.lanes for r in out] == [(1,), (3,)]


def test_a_span_shorter_than_min_ms_is_dropped() -> None:
    timeline = frames([(1, 500, 700, ITEM)], until=2000)
    assert [(r.t0, r.t1) for r in reaches(timeline)] == [(500, 700)]
    assert reaches(timeline, config=InteractionConfig(min_ms=250)) == []


def test_a_lane_re_entering_within_the_merge_gap_is_one_reach() -> None:
    out = run(frames([(1, 500, 1000, ITEM), (1, 1200, 1600, HAND)], until=2500))
    assert [(t, r.lanes, r.t0, r.t1, r.holding) for t, r in out] == [(2000, (1,), 500, 1600, "none")]


def test_a_lane_re_entering_after_the_merge_gap_is_two_reaches() -> None:
    # Out at 1100, back in at 1400 = 1100 + merge_gap_ms: the first reach is already complete.
    out = run(frames([(1, 500, 1000, ITEM), (1, 1300, 1700, HAND)], until=2500))
    assert [(t, r.t0, r.t1, r.holding) for t, r in out] == [(1400, 500, 1000, "item"), (2100, 1300, 1700, "none")]


def test_holding_is_what_the_hand_held_in_its_last_frames() -> None:
    def holding(*hands: tuple[int, int, Hand]) -> list[str]:
        return [r.holding for r in reaches(frames([(0, start, end, h) for start, end, h in hands], until=2500))]

    assert holding((500, 1200, HAND)) == ["none"]
    assert holding((500, 1200, HALF)) == ["unknown"]
    assert holding((500, 900, ITEM), (900, 1300, HAND)) == ["none"], "brought an item, put it back"
    assert holding((500, 900, HAND), (900, 1300, ITEM)) == ["item"], "came empty, took one"


def test_the_reacher_position_is_the_median_over_the_span() -> None:
    seen = {700: (1_000, 200), 800: (1_040, 260), 900: (9_000, 9_000), 1000: (1_020, 240)}

    def reacher(t: int) -> tuple[int, int] | None:
        # Far away outside the span, unseen at 600: neither counts.
        return seen.get(t, (5_000, 5_000)) if t != 600 else None

    out = reaches(frames([(2, 500, 1000, ITEM)], until=2000), reacher=reacher)
    assert [(r.t0, r.t1, r.x_mm, r.y_mm, r.located) for r in out] == [(500, 1000, 1_030, 250, True)]


def test_a_reach_nobody_was_seen_making_is_not_located() -> None:
    out = reaches(frames([(2, 500, 1000, ITEM)], until=2000), reacher=lambda t: None)
    assert [(r.x_mm, r.y_mm, r.located) for r in out] == [(0, 0, False)]


def test_flush_closes_open_spans_and_waiting_reaches() -> None:
    tracker = InteractionTracker([0, 1, 2, 3], CONFIG)
    for t, scores in frames([(0, 500, 1000, ITEM), (3, 500, 5000, HAND)], until=1300):
        assert tracker.add(t, scores, {}) == []
    out = tracker.flush(1300)
    assert [(r.lanes, r.t0, r.t1) for r in out] == [((0,), 500, 1000), ((3,), 500, 1300)]
    assert tracker.flush(1400) == []
    for t in (1500, 1600, 1700):
        assert tracker.add(t, scores_at(t, [(3, 0, 5000, HAND)]), {}) == []
    assert [r.t0 for r in tracker.flush(1800)] == [1500], "smoothing starts afresh after a stop"


def test_irregular_frames_use_their_own_times() -> None:
    # A burst of three in-frames 10 ms apart is flicker, three spread over 550 ms are a reach;
    # the reach (in from the frame at 650 to the one at 1250) is emitted on the first frame
    # whose predecessor, the frame the median speaks for, is at or past t1 + merge_gap_ms.
    times = [0, 10, 20, 30, 40, 50, 400, 650, 700, 1200, 1250, 1500, 1600, 1790, 1810, 2500]
    hands = [(1, 10, 31, ITEM), (1, 650, 1201, ITEM)]
    out = run([(t, scores_at(t, hands)) for t in times])
    assert [(t, r.t0, r.t1) for t, r in out] == [(1790, 650, 1250)]


def test_lanes_not_watched_are_ignored_and_missing_lanes_are_empty() -> None:
    timeline = frames([(2, 500, 1000, ITEM), (3, 500, 1500, ITEM), (7, 0, 2000, ITEM)], until=2500)
    assert [(r.lanes, r.t1) for r in reaches(timeline, lanes=[1, 2])] == [((2,), 1000)]


def test_each_lane_takes_the_position_of_its_own_reacher() -> None:
    tracker = InteractionTracker([0, 1, 2, 3], CONFIG)
    out = []
    for t, scores in frames([(0, 500, 1000, ITEM), (3, 500, 1000, HAND)], until=2000):
        out += tracker.add(t, scores, {0: (150, 300), 3: (1_050, 420)})
    assert [(r.lanes, r.x_mm, r.y_mm) for r in out] == [((0,), 150, 300), ((3,), 1_050, 420)]


def test_holding_is_judged_on_the_hands_own_frames_not_the_empty_lane_after() -> None:
    # Empty lanes still carry small scores, whose item share can be anything: the frame after
    # the hand left (still inside the median's window) must not take part in the verdict.
    def timeline(hand: Hand, noise: Hand) -> list[tuple[int, list[LaneScores]]]:
        return [
            (t, [LaneScores(2, 1 - sum(h), *h) for h in [hand if 500 <= t < 800 else noise]])
            for t in range(0, 2000, 100)
        ]

    assert [r.holding for r in reaches(timeline((0.25, 0.6), noise=(0.05, 0.0)))] == ["item"]
    assert [r.holding for r in reaches(timeline((0.6, 0.25), noise=(0.0, 0.05)))] == ["none"]


def test_a_lane_stuck_in_is_dropped_and_does_not_hold_back_its_neighbours() -> None:
    config = InteractionConfig(max_ms=5_000)
    tracker = InteractionTracker([0, 1], config)
    hands = [(0, 0, 60_000, HAND), (1, 2_000, 2_500, ITEM), (1, 20_000, 20_600, HAND)]
    out = []
    stuck_seen = []
    for t, scores in frames(hands, until=70_000):
        out += tracker.add(t, scores, {})
        stuck_seen.append(tracker.stuck)
    assert [(r.lanes, r.t0) for r in out] == [((1,), 2_000), ((1,), 20_000)], "lane 0's 60 s is not a reach"
    assert stuck_seen[100] == [0] and stuck_seen[-1] == [], "stuck while it reads in, free once it reads out"

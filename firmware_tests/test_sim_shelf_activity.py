"""The simulated shelf lanes: deterministic per seed, truth consistent with the samples."""

import random
import statistics

from hw.sim.shelf_activity import ActivityConfig, Lane


def test_the_same_seed_gives_the_same_lane() -> None:
    first = list(Lane(0, ActivityConfig(), random.Random(4)).samples(120, 10))
    second = list(Lane(0, ActivityConfig(), random.Random(4)).samples(120, 10))
    assert first == second and len(first) == 1200
    assert [t for t, _ in first[:3]] == [0, 100, 200]


def test_every_true_change_is_whole_items_and_the_samples_show_it() -> None:
    lane = Lane(0, ActivityConfig(creep_fraction=0.0), random.Random(8))
    samples = list(lane.samples(600, 10))
    assert len(lane.truth) > 20
    for change in lane.truth:
        assert change.delta_mg % lane.unit_mg == 0 and change.delta_mg != 0
        before = statistics.fmean(w for t, w in samples if change.t_start_ms - 1_500 <= t < change.t_start_ms)
        after = statistics.fmean(w for t, w in samples if change.t_settle_ms < t <= change.t_settle_ms + 1_500)
        assert abs((after - before) - change.delta_mg) < 3_000


def test_a_quiet_lane_has_no_changes_only_noise_and_drift() -> None:
    lane = Lane(0, ActivityConfig(quiet=True, drift_mg_per_h=3_600_000), random.Random(2))
    samples = [w for _, w in lane.samples(3600, 1)]
    assert lane.truth == []
    assert 3_400_000 < samples[-1] - samples[0] < 3_800_000, "one hour at 3.6 kg/h"
    assert statistics.pstdev(w - 1_000 * n for n, w in enumerate(samples)) < 2_000

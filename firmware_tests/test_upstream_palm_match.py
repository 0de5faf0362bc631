"""Palm matching: angular distance over the cells both masks keep, best over small shifts."""

import numpy as np
import pytest

from edge.gate.palm import PalmEncoder
from edge.protocol.palm_template import GRID, PalmTemplate
from hw.sim.palm import capture, identity
from upstream.palm_match import MIN_OVERLAP, distance, distances, gallery, search


def code(seed: int, mask_share: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 6, (GRID, GRID)).astype(np.uint8), rng.random((GRID, GRID)) < mask_share


def test_a_template_is_at_distance_zero_from_itself_and_about_half_from_an_unrelated_one() -> None:
    a = PalmTemplate.from_code(*code(1))
    assert distance(a, a) == 0.0
    assert 0.4 < distance(a, PalmTemplate.from_code(*code(2))) < 0.5


@pytest.mark.parametrize(("dx", "dy"), [(1, 0), (0, -2), (-2, 1), (2, 2)])
def test_a_hand_placed_up_to_two_cells_off_still_matches_exactly(dx: int, dy: int) -> None:
    orientation, mask = code(3)
    moved = np.roll(orientation, (dy, dx), axis=(0, 1))
    moved_mask = np.roll(mask, (dy, dx), axis=(0, 1))
    assert distance(PalmTemplate.from_code(orientation, mask), PalmTemplate.from_code(moved, moved_mask)) == 0.0


def test_three_cells_off_is_beyond_the_search() -> None:
    orientation, mask = code(4)
    moved = PalmTemplate.from_code(np.roll(orientation, 3, axis=1), np.roll(mask, 3, axis=1))
    assert distance(PalmTemplate.from_code(orientation, mask), moved) > 0.4


def test_one_orientation_step_everywhere_is_a_third() -> None:
    orientation, mask = code(5)
    turned = PalmTemplate.from_code((orientation + 1) % 6, mask)
    assert distance(PalmTemplate.from_code(orientation, mask), turned) == pytest.approx(1 / 3, abs=0.05)


def test_too_little_overlap_is_no_match() -> None:
    orientation, _ = code(6)
    sparse = np.zeros((GRID, GRID), bool)
    sparse.flat[: MIN_OVERLAP // 2] = True
    assert distance(PalmTemplate.from_code(orientation, sparse), PalmTemplate.from_code(orientation, sparse)) == 1.0


def test_one_against_many_is_each_pair() -> None:
    templates = [PalmTemplate.from_code(*code(seed)) for seed in range(10, 20)]
    probe = templates[3]
    expected = [distance(probe, t) for t in templates]
    assert distances(probe, gallery(templates)).tolist() == pytest.approx(expected)
    assert distances(probe, gallery([])).shape == (0,)


def test_a_search_finds_what_comparing_with_everything_finds() -> None:
    # Real palm codes, whose orientation fields are smooth, so a hand placed a little off
    # still stands out before any shifting: random codes would not (and are not palms).
    encoder = PalmEncoder()
    templates = [encoder.encode(capture(identity(i), 0)).template for i in range(60)]
    probe = encoder.encode(capture(identity(30), 1)).template
    everything = distances(probe, gallery(templates))
    found = search(probe, gallery(templates), keep=5)
    assert found[0][0] == 30 == int(np.argmin(everything))
    assert found[0][1] == pytest.approx(everything[30])
    assert [d for _, d in found] == sorted(d for _, d in found) and len(found) == 5

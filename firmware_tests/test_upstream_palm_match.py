"""Palm matching: angular distance over the cells both masks keep, best over small turns and
shifts, and a search that ranks a large gallery before searching its best in full."""

import numpy as np
import pytest
from scipy import ndimage

from edge.gate.palm import PalmEncoder
from edge.protocol.palm_template import GRID, PalmTemplate
from hw.sim.palm import CaptureConditions, capture, identity
from upstream.palm_match import MIN_OVERLAP, Gallery, distance, distances, rotated, search

ENCODER = PalmEncoder()


def codes(seed: int, mask_share: float = 0.9) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 6, (GRID, GRID)).astype(np.uint8)
    return coarse, rng.integers(0, 6, (GRID, GRID)).astype(np.uint8), rng.random((GRID, GRID)) < mask_share


def rolled(parts: tuple[np.ndarray, ...], dx: int, dy: int) -> PalmTemplate:
    return PalmTemplate.from_codes(*(np.roll(p, (dy, dx), axis=(0, 1)) for p in parts))


def test_a_template_is_at_distance_zero_from_itself_and_about_half_from_an_unrelated_one() -> None:
    a = PalmTemplate.from_codes(*codes(1))
    assert distance(a, a) == 0.0
    assert 0.4 < distance(a, PalmTemplate.from_codes(*codes(2))) < 0.5


@pytest.mark.parametrize(("dx", "dy"), [(1, 0), (0, -2), (-2, 1), (2, 2)])
def test_a_hand_placed_up_to_two_cells_off_still_matches_exactly(dx: int, dy: int) -> None:
    parts = codes(3)
    assert distance(PalmTemplate.from_codes(*parts), rolled(parts, dx, dy)) == 0.0


def test_three_cells_off_is_beyond_the_search() -> None:
    parts = codes(4)
    assert distance(PalmTemplate.from_codes(*parts), rolled(parts, 3, 0)) > 0.4


def test_one_orientation_step_everywhere_is_a_third() -> None:
    coarse, fine, mask = codes(5)
    turned = PalmTemplate.from_codes((coarse + 1) % 6, (fine + 1) % 6, mask)
    assert distance(PalmTemplate.from_codes(coarse, fine, mask), turned) == pytest.approx(1 / 3, abs=0.05)


def test_a_turned_template_keeps_its_centre_and_masks_what_came_from_outside() -> None:
    planes = PalmTemplate.from_codes(*codes(6, mask_share=1.0)).planes
    assert np.array_equal(rotated(planes, 0.0), planes)
    coarse, fine, mask = PalmTemplate(rotated(planes, 3.0)).codes()
    original = PalmTemplate(planes).codes()
    assert coarse[14:18, 14:18].tolist() == original[0][14:18, 14:18].tolist()
    assert mask[12:20, 12:20].all() and not mask.all()


@pytest.mark.parametrize("seed", [0, 1])
def test_a_hand_turned_five_degrees_stays_near_itself(seed: int) -> None:
    # Shifts alone leave such a pair at about 0.27, as far as the nearest strangers come.
    image = capture(identity(seed), 1, CaptureConditions(rotation_deg=0.0, shift_px=0.0))
    turned = ndimage.rotate(image, 5.0, reshape=False, mode="reflect")
    assert distance(ENCODER.encode(turned).template, ENCODER.encode(image).template) < 0.2


def test_too_little_overlap_is_no_match() -> None:
    coarse, fine, _ = codes(8)
    sparse = np.zeros((GRID, GRID), bool)
    sparse.flat[: MIN_OVERLAP // 2] = True
    template = PalmTemplate.from_codes(coarse, fine, sparse)
    assert distance(template, template) == 1.0


def test_one_against_many_is_each_pair() -> None:
    templates = [PalmTemplate.from_codes(*codes(seed)) for seed in range(10, 20)]
    probe = templates[3]
    expected = [distance(probe, t) for t in templates]
    assert distances(probe, Gallery.of(templates)).tolist() == pytest.approx(expected)
    assert distances(probe, Gallery.of([])).shape == (0,)


def test_a_search_finds_what_comparing_with_everything_finds_even_for_a_hand_placed_off() -> None:
    templates = [
        ENCODER.encode(capture(identity(i), 0, CaptureConditions(shift_px=0.0, rotation_deg=0.0))).template
        for i in range(60)
    ]
    # the probe as far off as the sensor allows: 3 px and 3° (the enrolment was straight)
    placed_off = CaptureConditions(shift_px=3.0, rotation_deg=3.0)
    stacked = Gallery.of(templates)
    for seed in (1, 2, 3):
        probe = ENCODER.encode(capture(identity(30), seed, placed_off)).template
        everything = distances(probe, stacked)
        found = search(probe, stacked, keep=5)
        assert found[0][0] == 30 == int(np.argmin(everything))
        assert found[0][1] == pytest.approx(everything[30])
        assert [d for _, d in found] == sorted(d for _, d in found) and len(found) == 5

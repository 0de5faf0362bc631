"""Enrolment: several captures of one palm fused into one template that leaves fragile cells out."""

import numpy as np
import pytest

from edge.gate.palm import PalmEncoder
from edge.protocol.palm_template import GRID, PalmTemplate
from hw.sim.palm import capture, identity
from upstream.palm_enrol import MIN_CAPTURES, EnrolmentRefused, enrol
from upstream.palm_match import distance

ENCODER = PalmEncoder()


def captures(seed: int, count: int, first: int = 0) -> list[PalmTemplate]:
    return [ENCODER.encode(capture(identity(seed), 1000 * seed + c)).template for c in range(first, first + count)]


def test_an_enrolment_from_three_captures_is_nearer_new_captures_than_any_one_capture_is() -> None:
    for seed in (21, 22, 23):
        three = captures(seed, 3)
        later = captures(seed, 4, first=3)
        enrolled = enrol(three)
        fused = np.mean([distance(probe, enrolled) for probe in later])
        single = np.mean([distance(probe, three[0]) for probe in later])
        assert fused < single


def test_cells_the_captures_disagree_on_are_left_out() -> None:
    rng = np.random.default_rng(4)
    coarse = rng.integers(0, 6, (GRID, GRID)).astype(np.uint8)
    fine = rng.integers(0, 6, (GRID, GRID)).astype(np.uint8)
    mask = np.ones((GRID, GRID), bool)
    flipped = coarse.copy()
    flipped[10, 10] = (coarse[10, 10] + 3) % 6  # opposite orientation in one capture
    templates = [PalmTemplate.from_codes(c, fine, mask) for c in (coarse, coarse, flipped)]
    enrolled_coarse, _, enrolled_mask = enrol(templates).codes()
    assert not enrolled_mask[10, 10]
    assert enrolled_mask.sum() == GRID * GRID - 1
    assert np.array_equal(enrolled_coarse[enrolled_mask], coarse[enrolled_mask])


def test_one_steady_step_of_difference_keeps_the_cell_with_the_majority() -> None:
    rng = np.random.default_rng(5)
    coarse = rng.integers(0, 6, (GRID, GRID)).astype(np.uint8)
    fine = rng.integers(0, 6, (GRID, GRID)).astype(np.uint8)
    nudged = coarse.copy()
    nudged[3, 4] = (coarse[3, 4] + 1) % 6
    mask = np.ones((GRID, GRID), bool)
    enrolled = enrol([PalmTemplate.from_codes(c, fine, mask) for c in (coarse, nudged, coarse)])
    enrolled_coarse, _, enrolled_mask = enrolled.codes()
    assert enrolled_mask[3, 4] and enrolled_coarse[3, 4] == coarse[3, 4]


def test_too_few_captures_are_refused() -> None:
    with pytest.raises(EnrolmentRefused, match=f"at least {MIN_CAPTURES}"):
        enrol(captures(24, MIN_CAPTURES - 1))


def test_captures_of_two_palms_are_refused() -> None:
    mixed = captures(25, 2) + captures(26, 1)
    with pytest.raises(EnrolmentRefused, match="not all of one palm"):
        enrol(mixed)

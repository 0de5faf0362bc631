"""Enrolment: one template from several captures of the same palm. Pure.

Each capture is placed onto the first (the turn and shift that match it best), then every
cell takes, per scale, the orientation nearest all the captures' (a circular median). A
cell is kept only where nearly every capture saw a clear line and no capture's orientation
strays more than one step from that median: bits that flip from one capture to the next
("fragile bits") are what make a genuine palm look unlike itself, so the enrolled template
leaves them out.
"""

import numpy as np

from edge.protocol.palm_template import ORIENTATIONS, PalmTemplate
from upstream.palm_match import Gallery, distances_at, placements

MIN_CAPTURES = 3
MOST_APART = 0.35  # a capture further than this from the first is not of the same palm
_STRAY = 1  # orientation steps a capture may differ from the median and the cell still count


class EnrolmentRefused(ValueError):
    """The captures cannot make a template: too few, or not all of one palm."""


def _placed(capture: PalmTemplate, reference: Gallery) -> tuple[np.ndarray, float]:
    """The capture's planes as turned and shifted to best match the reference, and that distance."""
    moves = placements(capture.planes)
    scores = [float(distances_at(moved, reference)[0]) for moved in moves]
    best = int(np.argmin(scores))
    return moves[best], scores[best]


def _consensus(orientations: np.ndarray, seen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """orientations: K x G x G of 0..5, seen: K x G x G bool. The circular median per cell, and
    whether every capture that saw the cell stays within _STRAY steps of it."""
    costs = []
    for candidate in range(ORIENTATIONS):
        steps = np.abs(orientations.astype(np.int16) - candidate)
        costs.append(np.where(seen, np.minimum(steps, ORIENTATIONS - steps), 0).sum(axis=0))
    median = np.argmin(np.stack(costs), axis=0).astype(np.uint8)
    steps = np.abs(orientations.astype(np.int16) - median)
    stray = np.where(seen, np.minimum(steps, ORIENTATIONS - steps), 0).max(axis=0)
    return median, stray <= _STRAY


def enrol(captures: list[PalmTemplate]) -> PalmTemplate:
    if len(captures) < MIN_CAPTURES:
        raise EnrolmentRefused(f"enrolment needs at least {MIN_CAPTURES} captures, not {len(captures)}")
    reference = Gallery.of([captures[0]])
    placed = [captures[0]]
    for capture in captures[1:]:
        planes, apart = _placed(capture, reference)
        if apart > MOST_APART:
            raise EnrolmentRefused(f"the captures are not all of one palm (distance {apart:.2f} from the first)")
        placed.append(PalmTemplate(planes))
    coarse, fine, masks = (np.stack(part) for part in zip(*(t.codes() for t in placed), strict=True))
    coarse_median, coarse_steady = _consensus(coarse, masks)
    fine_median, fine_steady = _consensus(fine, masks)
    seen_enough = masks.sum(axis=0) >= len(placed) - 1
    return PalmTemplate.from_codes(coarse_median, fine_median, seen_enough & coarse_steady & fine_steady)

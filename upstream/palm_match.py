"""Palm template matching: the angular distance between two two-scale Competitive Codes,
minimised over small placements of the hand, one against many at once. Pure.

Distance = the differing orientation bits over the cells both masks keep, divided by the
most two codes can differ there (3 per cell and scale), so 0 is identical and about 0.4 is
unrelated palms. The probe is turned by up to 3° and shifted by up to SHIFT cells each way
(75 placements, about ±8 px of the 128 px region); the smallest distance counts. Too
little overlap counts as unrelated (1.0).

A search of a large gallery first ranks it by a measure that placement barely moves: the
share of the probe's cells whose coarse orientation the gallery template holds somewhere
within NEAR cells. It then takes the KEEP best through every placement.
"""

import math
from dataclasses import dataclass

import numpy as np

from edge.protocol.palm_template import BIT_CODE, GRID, MASK, ORIENTATIONS, PLANES, SCALES, PalmTemplate, pack, unpack

SHIFT = 2
ROTATIONS_DEG = (-3.0, 0.0, 3.0)
MIN_OVERLAP = GRID * GRID // 4  # cells both masks must keep for a distance to mean anything
NEAR = 2  # cells around each of a gallery template's cells that the first ranking looks in
KEEP = 256  # templates a search takes from the first ranking to every placement
_MOST_BITS = 3 * SCALES  # differing bits per cell when every orientation is opposite
_SHIFTS = [(dx, dy) for dy in range(-SHIFT, SHIFT + 1) for dx in range(-SHIFT, SHIFT + 1)]


def _shifted(planes: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """The planes (... x GRID rows) moved dx cells along a row and dy rows; what moves in is
    masked out (zero)."""
    out = np.zeros_like(planes)
    if dy >= 0:
        out[..., dy:] = planes[..., : GRID - dy]
    else:
        out[..., :dy] = planes[..., -dy:]
    return out << np.uint32(dx) if dx >= 0 else out >> np.uint32(-dx)


def rotated(planes: np.ndarray, degrees: float) -> np.ndarray:
    """The planes turned about the grid's centre, each cell taking its nearest source cell.
    Orientations stay as they are: a few degrees is a tenth of one orientation step, and
    cells whose source lies outside the grid are masked out."""
    if degrees == 0.0:
        return planes
    angle = math.radians(degrees)
    y, x = np.mgrid[0:GRID, 0:GRID] - (GRID - 1) / 2
    source_x = np.rint(math.cos(angle) * x + math.sin(angle) * y + (GRID - 1) / 2).astype(int)
    source_y = np.rint(-math.sin(angle) * x + math.cos(angle) * y + (GRID - 1) / 2).astype(int)
    inside = (source_x >= 0) & (source_x < GRID) & (source_y >= 0) & (source_y < GRID)
    bits = unpack(planes)[:, source_y.clip(0, GRID - 1), source_x.clip(0, GRID - 1)]
    bits[MASK] &= inside
    return pack(bits)


def placements(planes: np.ndarray) -> list[np.ndarray]:
    """Every placement of a probe that matching tries."""
    return [_shifted(rotated(planes, degrees), dx, dy) for degrees in ROTATIONS_DEG for dx, dy in _SHIFTS]


def _coarse_cells(planes: np.ndarray) -> np.ndarray:
    """... x ORIENTATIONS x GRID words: where the mask keeps a cell of each coarse orientation."""
    bits = [planes[..., b, :] for b in range(3)]
    return np.stack(
        [
            planes[..., MASK, :]
            & _bits_equal(bits[0], code & 1)
            & _bits_equal(bits[1], code >> 1 & 1)
            & _bits_equal(bits[2], code >> 2)
            for code in (int(c) for c in BIT_CODE)
        ],
        axis=-2,
    )


def _bits_equal(words: np.ndarray, bit: int) -> np.ndarray:
    return words if bit else ~words


def _nearby(planes: np.ndarray) -> np.ndarray:
    """N x ORIENTATIONS x GRID words: the cells within NEAR of a kept cell of each coarse orientation."""
    cells = _coarse_cells(planes)
    out = np.zeros_like(cells)
    for dy in range(-NEAR, NEAR + 1):
        for dx in range(-NEAR, NEAR + 1):
            out |= _shifted(cells, dx, dy)
    return out


@dataclass(frozen=True)
class Gallery:
    """Templates laid out for matching: each one's six orientation planes in one row of
    96 64-bit words (two grid rows to a word), its mask in another of 16, and the cells
    near each coarse orientation in a third of 96, so that one pass over memory compares a
    probe with all of them."""

    orientations: np.ndarray  # N x 96 uint64
    masks: np.ndarray  # N x 16 uint64
    nearby: np.ndarray  # N x 96 uint64

    @classmethod
    def of(cls, templates: list[PalmTemplate]) -> "Gallery":
        planes = np.stack([t.planes for t in templates]) if templates else np.zeros((0, PLANES, GRID), np.uint32)
        return cls.of_planes(planes)

    @classmethod
    def of_planes(cls, planes: np.ndarray) -> "Gallery":
        """From N x PLANES x GRID uint32 planes."""
        words = np.ascontiguousarray(planes, dtype=np.uint32).view(np.uint64)
        return cls(
            np.ascontiguousarray(words[:, :MASK]).reshape(len(planes), MASK * GRID // 2),
            np.ascontiguousarray(words[:, MASK]),
            _nearby(planes).view(np.uint64).reshape(len(planes), ORIENTATIONS * GRID // 2),
        )

    def __len__(self) -> int:
        return len(self.masks)

    def take(self, indices: np.ndarray) -> "Gallery":
        return Gallery(self.orientations[indices], self.masks[indices], self.nearby[indices])


def distances_at(moved: np.ndarray, stacked: Gallery) -> np.ndarray:
    """Distances of one placement of the probe to every template of the gallery."""
    words = np.ascontiguousarray(moved).view(np.uint64)
    both = words[MASK] & stacked.masks  # N x 16
    differing = (words[:MASK].reshape(-1) ^ stacked.orientations).reshape(len(stacked), MASK, GRID // 2)
    differing &= both[:, None, :]
    bits = np.bitwise_count(differing).sum(axis=(1, 2), dtype=np.int64)
    overlap = np.bitwise_count(both).sum(axis=1, dtype=np.int64)
    return np.where(overlap >= MIN_OVERLAP, bits / (_MOST_BITS * np.maximum(overlap, 1)), 1.0)


def distances(probe: PalmTemplate, stacked: Gallery) -> np.ndarray:
    """The probe's distance to each template of the gallery, best over the placements."""
    best = np.ones(len(stacked))
    for moved in placements(probe.planes):
        np.minimum(best, distances_at(moved, stacked), out=best)
    return best


def search(probe: PalmTemplate, stacked: Gallery, keep: int = KEEP) -> list[tuple[int, float]]:
    """The gallery's templates nearest the probe, best first, as (index, distance): the `keep`
    that share most of the probe's coarse orientations nearby, searched over every
    placement. The first ranking costs about as much as one placement of the 75, and a
    hand placed within the search's reach keeps its own template well inside the `keep`."""
    if len(stacked) > keep:
        cells = np.ascontiguousarray(_coarse_cells(probe.planes)).view(np.uint64).reshape(-1)
        shared = np.bitwise_count(stacked.nearby & cells).sum(axis=1, dtype=np.int32)
        candidates = np.argpartition(-shared, keep)[:keep]
    else:
        candidates = np.arange(len(stacked))
    fine = distances(probe, stacked.take(candidates))
    order = np.argsort(fine, kind="stable")
    return [(int(candidates[i]), float(fine[i])) for i in order]


def distance(a: PalmTemplate, b: PalmTemplate) -> float:
    return float(distances(a, Gallery.of([b]))[0])

"""Palm template matching: the angular distance between two Competitive Codes, minimised
over small shifts of the hand, one against many at once. Pure.

Distance = the differing orientation bits over the cells both masks keep, divided by 3 per
cell (the most two orientations can differ), so 0 is identical and about 0.5 is unrelated.
The probe is shifted by up to SHIFT cells each way (25 placements, about ±8 px of the
128 px region) and the smallest distance counts. Too little overlap counts as unrelated.
"""

import numpy as np

from edge.protocol.palm_template import GRID, PalmTemplate

SHIFT = 2
MIN_OVERLAP = GRID * GRID // 4  # cells both masks must keep for a distance to mean anything
KEEP = 256  # templates a search takes from the unshifted pass to the full one


def _shifted(planes: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """The planes moved dx cells along a row and dy rows; what moves in is masked out (zero)."""
    out = np.zeros_like(planes)
    if dy >= 0:
        out[:, dy:] = planes[:, : GRID - dy]
    else:
        out[:, :dy] = planes[:, -dy:]
    return out << np.uint32(dx) if dx >= 0 else out >> np.uint32(-dx)


PLACEMENTS = [(dx, dy) for dy in range(-SHIFT, SHIFT + 1) for dx in range(-SHIFT, SHIFT + 1)]


def gallery(templates: list[PalmTemplate]) -> np.ndarray:
    """Templates stacked for distances(): N x 4 x GRID uint32."""
    return np.stack([t.planes for t in templates]) if templates else np.zeros((0, 4, GRID), np.uint32)


def _at(moved: np.ndarray, stacked: np.ndarray) -> np.ndarray:
    """Distances of one placement of the probe to every template of the gallery."""
    both = moved[3] & stacked[:, 3]  # N x GRID
    bits = np.bitwise_count((moved[0] ^ stacked[:, 0]) & both).sum(axis=1, dtype=np.int64)
    for plane in (1, 2):
        bits += np.bitwise_count((moved[plane] ^ stacked[:, plane]) & both).sum(axis=1, dtype=np.int64)
    overlap = np.bitwise_count(both).sum(axis=1, dtype=np.int64)
    return np.where(overlap >= MIN_OVERLAP, bits / (3 * np.maximum(overlap, 1)), 1.0)


def distances(probe: PalmTemplate, stacked: np.ndarray) -> np.ndarray:
    """The probe's distance to each template of the gallery, best over the placements."""
    best = np.ones(len(stacked))
    for dx, dy in PLACEMENTS:
        np.minimum(best, _at(_shifted(probe.planes, dx, dy), stacked), out=best)
    return best


def search(probe: PalmTemplate, stacked: np.ndarray, keep: int = KEEP) -> list[tuple[int, float]]:
    """The gallery's templates nearest the probe, best first, as (index, distance): the `keep`
    nearest without shifting, searched over every placement. One placement costs a 25th of
    all of them, and a hand placed within the search's reach stays far nearer its own
    template than an unrelated palm is, shifted or not."""
    if len(stacked) > keep:
        candidates = np.argpartition(_at(probe.planes, stacked), keep)[:keep]
    else:
        candidates = np.arange(len(stacked))
    fine = distances(probe, stacked[candidates])
    order = np.argsort(fine, kind="stable")
    return [(int(candidates[i]), float(fine[i])) for i in order]


def distance(a: PalmTemplate, b: PalmTemplate) -> float:
    return float(distances(a, gallery([b]))[0])

"""Where things are in a camera's image: each lane's region of interest, and the floor
calibration that maps image pixels onto store floor millimetres. Pure.

The floor calibration is a homography fitted to four (or more) marks on the floor whose
store coordinates the installer knows; with exactly four it passes through them.
"""

import itertools
import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class LaneRoi:
    lane: int
    x0: int
    y0: int
    x1: int
    y1: int


def fit_homography(source: list[tuple[float, float]], target: list[tuple[float, float]]) -> np.ndarray:
    """The 3x3 projective map taking each source point to its target (least squares past four)."""
    if len(source) != len(target) or len(source) < 4:
        raise ValueError("a floor calibration needs at least four point pairs")
    rows = []
    for (x, y), (u, v) in zip(source, target, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y, -u])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y, -v])
    for points in (source, target):
        if len(points) == 4 and any(_collinear(*triple) for triple in itertools.combinations(points, 3)):
            raise ValueError("the calibration points are degenerate: three of the four lie on one line")
    _, _, vt = np.linalg.svd(np.asarray(rows, dtype=np.float64))
    matrix = vt[-1].reshape(3, 3)
    if abs(matrix[2, 2]) < 1e-12 or np.linalg.cond(matrix) > 1e12:
        raise ValueError("the calibration points are degenerate: they do not pin down a plane")
    return matrix / matrix[2, 2]


def _collinear(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> bool:
    """Whether c lies on the line through a and b, to within a thousandth of their spread."""
    cross = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
    spread = max(math.dist(a, b), math.dist(a, c), math.dist(b, c))
    return abs(cross) <= 1e-3 * spread * spread


def apply_homography(matrix: np.ndarray, x: float, y: float) -> tuple[float, float]:
    u, v, w = matrix @ np.array([x, y, 1.0])
    return float(u / w), float(v / w)


@dataclass(frozen=True)
class FloorCalibration:
    image_to_floor: np.ndarray
    floor_to_image: np.ndarray

    @classmethod
    def from_points(cls, image: list[tuple[float, float]], floor: list[tuple[float, float]]) -> "FloorCalibration":
        return cls(fit_homography(image, floor), fit_homography(floor, image))

    def to_floor(self, u: float, v: float) -> tuple[float, float]:
        return apply_homography(self.image_to_floor, u, v)

    def to_image(self, x_mm: float, y_mm: float) -> tuple[float, float]:
        return apply_homography(self.floor_to_image, x_mm, y_mm)

    def pixels_per_mm(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """At each image pixel (u, v) of the floor: how many pixels a millimetre of floor spans
        across the image (+x) and into it (+y) there."""
        ones = np.ones_like(u, dtype=np.float64)
        fx, fy, fw = np.einsum("ij,j...->i...", self.image_to_floor, np.stack([u, v, ones]))
        x, y = fx / fw, fy / fw

        def seen(px: np.ndarray, py: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            iu, iv, iw = np.einsum("ij,j...->i...", self.floor_to_image, np.stack([px, py, ones]))
            return iu / iw, iv / iw

        u0, v0 = seen(x, y)
        u1, _ = seen(x + 100, y)
        _, v1 = seen(x, y + 100)
        return np.abs(u1 - u0) / 100, np.abs(v1 - v0) / 100

"""People in the aisle, as floor positions, from the floor part of each frame. Pure.

A background of the empty floor is learned from the frames themselves (slowly, and only
where nothing stands), so lighting that drifts through the day is followed; most of the
floor changing at once is the lights, and starts the background again. What differs from
the background is opened (thin things such as a cart's wires vanish) and grouped into
connected blobs; a blob big and solid enough is a person. Seen from above, a person's silhouette reaches about half a
shoulder depth nearer the camera than where they stand, and its far side may be cut off
by the shelf edge, so the position is taken from the blob's near edge, not its centroid.
"""

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from edge.camera.geometry import FloorCalibration

STEP = 2  # blobs are found on every second pixel: people are far bigger than that
CROSS = ndimage.generate_binary_structure(2, 1)


@dataclass(frozen=True, slots=True)
class PresenceConfig:
    floor_top: int  # the first image row of aisle floor
    threshold: float = 28.0  # summed channel difference from the background that counts
    min_area: int = 40  # pixels at STEP, about 160 at full resolution
    min_fill: float = 0.4  # of the blob's bounding box: a cart's grid is sparse
    half_depth_mm: int = 200  # from a person's near silhouette edge to where they stand
    half_width_mm: int = 230  # from a side of the silhouette to where they stand
    learn_rate: float = 0.03
    relearn_share: float = 0.6  # more of the floor than this changed at once: start the background again


class PresenceDetector:
    def __init__(self, calibration: FloorCalibration, config: PresenceConfig) -> None:
        self._calibration = calibration
        self._config = config
        self._background: np.ndarray | None = None

    def add(self, frame: np.ndarray) -> list[tuple[int, int, int]]:
        """(x_mm, y_mm, conf_pm) of each person in this frame; nothing on the first frame,
        which starts the background."""
        floor = frame[self._config.floor_top :: STEP, ::STEP].astype(np.float32)
        if self._background is None:
            self._background = floor
            return []
        difference = np.abs(floor - self._background).sum(axis=2)
        mask = difference > self._config.threshold
        if mask.mean() > self._config.relearn_share:  # the lights changed, not half the aisle filling up
            self._background = floor
            return []
        quiet = ~mask
        self._background[quiet] += self._config.learn_rate * (floor[quiet] - self._background[quiet])
        people = []
        for rows, cols in _blobs(_opened(mask)):
            height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
            if len(rows) < self._config.min_area or len(rows) < self._config.min_fill * height * width:
                continue
            strength = float(difference[rows, cols].mean())
            people.append(self._locate(rows, cols, mask.shape[1] - 1, strength))
        return people

    def _locate(self, rows: np.ndarray, cols: np.ndarray, last_col: int, strength: float) -> tuple[int, int, int]:
        """The silhouette is centred on the image of where the person stands, and reaches
        half_depth_mm nearer in the aisle at the local image scale: walk back from its near
        edge by that much (the scale depends on where, so a few rounds settle it)."""
        config = self._config
        u = float(cols.mean()) * STEP
        near_v = float(rows.max()) * STEP + config.floor_top
        v = near_v
        for _ in range(4):
            x, y = self._calibration.to_floor(u, v)
            u_here, v_here = self._calibration.to_image(x, y)
            u_wider, _ = self._calibration.to_image(x + 100, y)
            _, v_deeper = self._calibration.to_image(x, y + 100)
            v = near_v - config.half_depth_mm * abs(v_deeper - v_here) / 100
            half_width = config.half_width_mm * abs(u_wider - u_here) / 100
            if cols.min() == 0 and cols.max() < last_col:  # cut off by the image's left edge
                u = cols.max() * STEP - half_width
            elif cols.max() == last_col and cols.min() > 0:
                u = cols.min() * STEP + half_width
        x, y = self._calibration.to_floor(u, v)
        confidence = min(1000, round(400 + strength * 3))
        return round(x), round(y), confidence


def _opened(mask: np.ndarray) -> np.ndarray:
    """Two 4-neighbour erosions, then two dilations: thin things (a cart's wires) vanish. The
    image border counts as set, so a person cut off by the frame's edge keeps their edge."""
    inner = ndimage.binary_erosion(mask, CROSS, iterations=2, border_value=1)
    return ndimage.binary_dilation(inner, CROSS, iterations=2)


def _blobs(mask: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """4-connected components of a boolean image, as (rows, cols) index arrays."""
    labels, _ = ndimage.label(mask, CROSS)
    found = []
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:
            continue
        rows, cols = np.nonzero(labels[box] == index)
        found.append((rows + box[0].start, cols + box[1].start))
    return found

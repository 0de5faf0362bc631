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
CHANNELS = np.ones(3, np.float32)
Person = tuple[int, int, int]  # x_mm, y_mm, conf_pm


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
        self._scale: tuple[np.ndarray, np.ndarray] | None = None

    def add(self, frame: np.ndarray) -> list[Person]:
        """(x_mm, y_mm, conf_pm) of each person in this frame; nothing on the first frame,
        which starts the background."""
        return self.add_floor(self.floor(frame))

    def floor(self, frame: np.ndarray) -> np.ndarray:
        """The part of a frame presence looks at: the rows of aisle floor (a contiguous block,
        so copying it is a memcpy: 7x cheaper than gathering every STEP-th pixel)."""
        return frame[self._config.floor_top :]

    def add_floor(self, rows: np.ndarray) -> list[Person]:
        """As add(), given only the frame's floor()."""
        floor = rows[::STEP, ::STEP]
        if self._background is None:
            self._background = floor.astype(np.float32)
            return []
        change = np.subtract(floor, self._background, dtype=np.float32)  # one pass over the strided pixels
        difference = np.abs(change) @ CHANNELS  # a matrix product: 7x a sum over the last axis
        mask = difference > self._config.threshold
        if np.count_nonzero(mask) > self._config.relearn_share * mask.size:  # the lights, not a crowd
            self._background = floor.astype(np.float32)
            return []
        # Multiplying by the mask is five times cheaper here than indexing with it.
        change *= (self._config.learn_rate * ~mask)[:, :, None]
        self._background += change
        people = []
        for rows, cols in _blobs(_opened(mask)):
            height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
            if len(rows) < self._config.min_area or len(rows) < self._config.min_fill * height * width:
                continue
            strength = float(difference[rows, cols].mean())
            people.append(self._locate(rows, cols, (mask.shape[0], mask.shape[1]), strength))
        return people

    def _scales(self, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Pixels per millimetre across and into the aisle at each mask pixel, made once."""
        if self._scale is None or self._scale[0].shape != shape:
            v, u = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
            self._scale = self._calibration.pixels_per_mm(u * STEP, v * STEP + self._config.floor_top)
        return self._scale

    def _locate(self, rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int], strength: float) -> Person:
        """The silhouette is centred on the image of where the person stands, and reaches
        half_depth_mm nearer in the aisle at the local image scale: walk back from its near
        edge by that much (the scale depends on where, so a few rounds settle it)."""
        config = self._config
        across, deeper = self._scales(shape)
        u = float(cols.mean()) * STEP
        near_v = float(rows.max()) * STEP + config.floor_top
        v = near_v
        cut_left = cols.min() == 0 and cols.max() < shape[1] - 1  # cut off by the image's left edge
        cut_right = cols.max() == shape[1] - 1 and cols.min() > 0
        for _ in range(3):
            row = min(shape[0] - 1, max(0, round((v - config.floor_top) / STEP)))
            col = min(shape[1] - 1, max(0, round(u / STEP)))
            v = near_v - config.half_depth_mm * deeper[row, col]
            half_width = config.half_width_mm * across[row, col]
            if cut_left:
                u = cols.max() * STEP - half_width
            elif cut_right:
                u = cols.min() * STEP + half_width
        x, y = self._calibration.to_floor(u, v)
        confidence = min(1000, round(400 + strength * 3))
        return round(x), round(y), confidence


def _opened(mask: np.ndarray) -> np.ndarray:
    """Two 4-neighbour erosions, then two dilations: thin things (a cart's wires) vanish. The
    image border counts as set, so a person cut off by the frame's edge keeps their edge.
    Shifted copies, not scipy.ndimage: on a mask this small they cost a fifth as much."""
    return _dilate(_dilate(_erode(_erode(mask))))


def _erode(mask: np.ndarray) -> np.ndarray:
    inner = mask.copy()
    inner[1:] &= mask[:-1]
    inner[:-1] &= mask[1:]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    return inner


def _dilate(mask: np.ndarray) -> np.ndarray:
    grown = mask.copy()
    grown[1:] |= mask[:-1]
    grown[:-1] |= mask[1:]
    grown[:, 1:] |= mask[:, :-1]
    grown[:, :-1] |= mask[:, 1:]
    return grown


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

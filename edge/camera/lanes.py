"""Each lane's region of interest cut out of a frame and scaled to the model's input. Pure.

Nearest-neighbour sampling through a table of byte indices made once per camera: one gather
per frame, a tenth of the cost of numpy's two-axis fancy indexing. That matters more on a Pi
than the smoothness a filter would buy.
"""

import numpy as np

from edge.camera.geometry import LaneRoi


class LaneCropper:
    def __init__(self, rois: list[LaneRoi], size: int, frame_shape: tuple[int, int]) -> None:
        height, width = frame_shape
        for roi in rois:
            if not (0 <= roi.x0 < roi.x1 <= width and 0 <= roi.y0 < roi.y1 <= height):
                raise ValueError(f"lane {roi.lane}'s region {roi} lies outside the {width}x{height} frame")
        self.lanes = [roi.lane for roi in rois]
        self.size = size
        rows = np.stack([roi.y0 + (np.arange(size) + 0.5) * (roi.y1 - roi.y0) / size for roi in rois]).astype(np.intp)
        cols = np.stack([roi.x0 + (np.arange(size) + 0.5) * (roi.x1 - roi.x0) / size for roi in rois]).astype(np.intp)
        pixels = rows[:, :, None] * width + cols[:, None, :]
        self._bytes = (pixels * 3)[..., None] + np.arange(3)  # N x size x size x 3, into the frame's bytes

    def crop(self, frame: np.ndarray) -> np.ndarray:
        """N x size x size x 3 uint8: one crop per lane, in the order of the lanes."""
        return frame.reshape(-1).take(self._bytes)

"""The palm sensor as the gate sees it: a region of interest of a presented hand, 128 x 128
grey, as it is captured.

Locating the palm in a full camera frame (the valleys between the fingers, then a square
aligned to them) belongs to the sensor module; what reaches the gate is that square. The
simulated sensor (hw/sim/palm.py) delivers the same. A capture lives in memory only: the
gate encodes it, seals the template and wipes both buffers.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class PalmCapture:
    t: int
    roi: np.ndarray  # ROI x ROI uint8

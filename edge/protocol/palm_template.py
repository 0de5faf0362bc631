"""The palm template: what a gate seals for upstream inside a `palm` event, and what upstream
matches. Pure.

A Competitive Code (Kong & Zhang, ICPR 2004): for each cell of a 32 x 32 grid over the
palm's region of interest, the orientation (one of six) along which the palm lines there
are strongest, plus a mask bit for cells with no clear line. Orientations are stored as
three bit-planes in the code of the paper's Table 1 (0->000, 1->001, 2->011, 3->111,
4->110, 5->100), so that the number of differing bits between two codes is their angular
distance (0 to 3). Each row of a plane is one 32-bit word, and a template is four planes
(three orientation planes and the mask) of 32 rows: 512 bytes.
"""

from dataclasses import dataclass

import numpy as np

GRID = 32
ORIENTATIONS = 6
PLANES = 4  # three orientation bit-planes and the mask
TEMPLATE_BYTES = PLANES * GRID * GRID // 8
VERSION = 1
# Table 1 of the paper: neighbouring orientations differ in one bit, opposite ones in three.
BIT_CODE = np.array([0b000, 0b001, 0b011, 0b111, 0b110, 0b100], np.uint8)


@dataclass(frozen=True)
class PalmTemplate:
    planes: np.ndarray  # PLANES x GRID uint32 words: orientation bits 0..2, then the mask

    @classmethod
    def from_code(cls, orientation: np.ndarray, mask: np.ndarray) -> "PalmTemplate":
        """orientation: GRID x GRID of 0..5; mask: GRID x GRID bool, True where the code counts."""
        if orientation.shape != (GRID, GRID) or mask.shape != (GRID, GRID):
            raise ValueError(f"a palm code is {GRID} x {GRID}, not {orientation.shape}")
        bits = BIT_CODE[orientation]
        planes = np.stack([(bits >> b) & 1 for b in range(3)] + [mask.astype(np.uint8)])
        weights = (1 << np.arange(GRID, dtype=np.uint64)).astype(np.uint64)
        words = (planes.astype(np.uint64) * weights).sum(axis=2).astype(np.uint32)
        return cls(words)

    def to_bytes(self) -> bytes:
        return bytes([VERSION]) + self.planes.astype("<u4").tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> "PalmTemplate":
        if len(data) != 1 + TEMPLATE_BYTES or data[0] != VERSION:
            raise ValueError(f"not a version {VERSION} palm template of {1 + TEMPLATE_BYTES} bytes")
        return cls(np.frombuffer(data, "<u4", offset=1).reshape(PLANES, GRID).astype(np.uint32))

    @property
    def coverage(self) -> float:
        """The share of cells the mask keeps."""
        return float(np.bitwise_count(self.planes[3]).sum()) / (GRID * GRID)

"""The palm template: what a gate seals for upstream inside a `palm` event, and what upstream
matches. Pure.

A Competitive Code (Kong & Zhang, ICPR 2004) at two scales: for each cell of a 32 x 32 grid
over the palm's region of interest, the orientation (one of six) along which the palm lines
there are strongest, once for the broad principal creases and once for the finer secondary
ones, plus one mask bit for cells that carry no clear line at either scale. Orientations
are stored as three bit-planes per scale in the code of the paper's Table 1 (0->000,
1->001, 2->011, 3->111, 4->110, 5->100), so that the number of differing bits between two
codes is their angular distance (0 to 3). Each row of a plane is one 32-bit word: a
template is seven planes (three coarse, three fine, the mask) of 32 rows, 896 bytes.
"""

from dataclasses import dataclass

import numpy as np

GRID = 32
ORIENTATIONS = 6
SCALES = 2
PLANES = 3 * SCALES + 1
MASK = PLANES - 1  # the index of the mask plane
TEMPLATE_BYTES = PLANES * GRID * GRID // 8
VERSION = 1
# Table 1 of the paper: neighbouring orientations differ in one bit, opposite ones in three.
BIT_CODE = np.array([0b000, 0b001, 0b011, 0b111, 0b110, 0b100], np.uint8)
_ORIENTATION_OF = np.full(8, 255, np.uint8)
_ORIENTATION_OF[BIT_CODE] = np.arange(ORIENTATIONS, dtype=np.uint8)
_BIT = np.arange(GRID, dtype=np.uint32)


def pack(bits: np.ndarray) -> np.ndarray:
    """... x GRID x GRID of 0/1 to ... x GRID words, bit c of a row's word being column c."""
    weights = (np.uint64(1) << _BIT.astype(np.uint64)).astype(np.uint64)
    return (bits.astype(np.uint64) * weights).sum(axis=-1).astype(np.uint32)


def unpack(words: np.ndarray) -> np.ndarray:
    """The inverse of pack: ... x GRID words to ... x GRID x GRID of 0/1 (uint8)."""
    return ((words[..., None] >> _BIT) & 1).astype(np.uint8)


@dataclass(frozen=True)
class PalmTemplate:
    planes: np.ndarray  # PLANES x GRID uint32 words: coarse bits 0..2, fine bits 0..2, the mask

    @classmethod
    def from_codes(cls, coarse: np.ndarray, fine: np.ndarray, mask: np.ndarray) -> "PalmTemplate":
        """coarse, fine: GRID x GRID of 0..5; mask: GRID x GRID bool, True where the codes count."""
        for part in (coarse, fine, mask):
            if part.shape != (GRID, GRID):
                raise ValueError(f"a palm code is {GRID} x {GRID}, not {part.shape}")
        bits = [(BIT_CODE[orientation] >> b) & 1 for orientation in (coarse, fine) for b in range(3)]
        return cls(pack(np.stack([*bits, mask.astype(np.uint8)])))

    def codes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The coarse and fine orientations (GRID x GRID of 0..5) and the mask (bool)."""
        bits = unpack(self.planes)
        coarse = _ORIENTATION_OF[bits[0] | bits[1] << 1 | bits[2] << 2]
        fine = _ORIENTATION_OF[bits[3] | bits[4] << 1 | bits[5] << 2]
        return coarse, fine, bits[MASK].astype(bool)

    def to_bytes(self) -> bytes:
        return bytes([VERSION]) + self.planes.astype("<u4").tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> "PalmTemplate":
        if len(data) != 1 + TEMPLATE_BYTES or data[0] != VERSION:
            raise ValueError(f"not a version {VERSION} palm template of {1 + TEMPLATE_BYTES} bytes")
        template = cls(np.frombuffer(data, "<u4", offset=1).reshape(PLANES, GRID).astype(np.uint32))
        coarse, fine, _ = template.codes()
        if (coarse == 255).any() or (fine == 255).any():
            raise ValueError("not a palm template: a cell holds no orientation's code")
        return template

    @property
    def coverage(self) -> float:
        """The share of cells the mask keeps."""
        return float(np.bitwise_count(self.planes[MASK]).sum()) / (GRID * GRID)

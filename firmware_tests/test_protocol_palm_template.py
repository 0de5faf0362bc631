"""The palm template's wire form: a two-scale Competitive Code in bit-planes, whose bit
differences are angular distances."""

import numpy as np
import pytest

from edge.protocol.palm_template import BIT_CODE, GRID, MASK, TEMPLATE_BYTES, PalmTemplate


def random_codes(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, 6, (GRID, GRID)).astype(np.uint8),
        rng.integers(0, 6, (GRID, GRID)).astype(np.uint8),
        rng.random((GRID, GRID)) < 0.85,
    )


def test_a_template_is_897_bytes_and_comes_back_as_it_went() -> None:
    coarse, fine, mask = random_codes(1)
    template = PalmTemplate.from_codes(coarse, fine, mask)
    data = template.to_bytes()
    assert TEMPLATE_BYTES == 896 and len(data) == 1 + 896 <= 1024
    again = PalmTemplate.from_bytes(data)
    assert np.array_equal(again.planes, template.planes)
    assert again.coverage == pytest.approx(mask.mean())
    back = again.codes()
    assert np.array_equal(back[0], coarse) and np.array_equal(back[1], fine) and np.array_equal(back[2], mask)


def test_bit_c_of_row_r_of_each_plane_is_that_cell() -> None:
    coarse, fine, mask = random_codes(2)
    planes = PalmTemplate.from_codes(coarse, fine, mask).planes
    for row, col in [(0, 0), (5, 31), (31, 7)]:
        bits = [(int(planes[p, row]) >> col) & 1 for p in range(MASK + 1)]
        assert bits[0:3] == [(int(BIT_CODE[coarse[row, col]]) >> b) & 1 for b in range(3)]
        assert bits[3:6] == [(int(BIT_CODE[fine[row, col]]) >> b) & 1 for b in range(3)]
        assert bits[MASK] == int(mask[row, col])


def test_differing_bits_are_the_angular_distance_between_orientations() -> None:
    for a in range(6):
        for b in range(6):
            angular = min(abs(a - b), 6 - abs(a - b))
            assert bin(int(BIT_CODE[a]) ^ int(BIT_CODE[b])).count("1") == angular


@pytest.mark.parametrize(
    "data", [b"", bytes(897), bytes([2]) + bytes(896), bytes([1]) + bytes(895), bytes([1]) + bytes(897)]
)
def test_anything_else_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError, match="palm template"):
        PalmTemplate.from_bytes(data)


def test_bits_that_spell_no_orientation_are_refused() -> None:
    planes = PalmTemplate.from_codes(*random_codes(3)).planes.copy()
    planes[0, 4] |= 1 << 9  # cell (4, 9) of the coarse code becomes 0b?_?_1 ...
    planes[1, 4] &= ~np.uint32(1 << 9)  # ... with bit 1 clear ...
    planes[2, 4] |= 1 << 9  # ... and bit 2 set: 0b101, which Table 1 never uses
    with pytest.raises(ValueError, match="no orientation"):
        PalmTemplate.from_bytes(PalmTemplate(planes).to_bytes())


def test_a_code_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError, match="32 x 32"):
        PalmTemplate.from_codes(np.zeros((16, 16), np.uint8), np.zeros((16, 16), np.uint8), np.ones((16, 16), bool))

"""The palm template's wire form: a Competitive Code in bit-planes, whose bit differences are
angular distances."""

import numpy as np
import pytest

from edge.protocol.palm_template import BIT_CODE, GRID, TEMPLATE_BYTES, PalmTemplate


def random_code(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 6, (GRID, GRID)).astype(np.uint8), rng.random((GRID, GRID)) < 0.85


def test_a_template_is_512_bytes_and_comes_back_as_it_went() -> None:
    orientation, mask = random_code(1)
    template = PalmTemplate.from_code(orientation, mask)
    data = template.to_bytes()
    assert TEMPLATE_BYTES == 512 and len(data) == 1 + 512 <= 1024
    again = PalmTemplate.from_bytes(data)
    assert np.array_equal(again.planes, template.planes)
    assert again.coverage == pytest.approx(mask.mean())
    for row, col in [(0, 0), (5, 31), (31, 7)]:  # bit `col` of row `row` of each plane is that cell
        bits = [(int(again.planes[p, row]) >> col) & 1 for p in range(4)]
        assert bits[:3] == [(int(BIT_CODE[orientation[row, col]]) >> b) & 1 for b in range(3)]
        assert bits[3] == int(mask[row, col])


def test_differing_bits_are_the_angular_distance_between_orientations() -> None:
    for a in range(6):
        for b in range(6):
            angular = min(abs(a - b), 6 - abs(a - b))
            assert bin(int(BIT_CODE[a]) ^ int(BIT_CODE[b])).count("1") == angular


@pytest.mark.parametrize("data", [b"", bytes(513), bytes([2]) + bytes(512), bytes([1]) + bytes(511)])
def test_anything_else_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError, match="palm template"):
        PalmTemplate.from_bytes(data)


def test_a_code_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError, match="32 x 32"):
        PalmTemplate.from_code(np.zeros((16, 16), np.uint8), np.ones((16, 16), bool))

"""The floor calibration: a homography through the installer's floor marks, both ways."""

import pytest

from edge.camera.geometry import FloorCalibration

IMAGE = [(24.0, 102.0), (232.0, 102.0), (296.0, 191.0), (-40.0, 191.0)]
FLOOR = [(0.0, 100.0), (1200.0, 100.0), (1200.0, 1600.0), (0.0, 1600.0)]


def test_four_marks_map_exactly_and_points_go_back_and_forth() -> None:
    calibration = FloorCalibration.from_points(IMAGE, FLOOR)
    for (u, v), (x, y) in zip(IMAGE, FLOOR, strict=True):
        assert calibration.to_floor(u, v) == pytest.approx((x, y), abs=1e-6)
    x, y = calibration.to_floor(128.0, 150.0)
    assert 0 < x < 1200 and 100 < y < 1600
    assert calibration.to_image(x, y) == pytest.approx((128.0, 150.0), abs=1e-6)


def test_perspective_makes_the_far_aisle_wider_in_the_image() -> None:
    calibration = FloorCalibration.from_points(IMAGE, FLOOR)
    near = calibration.to_image(1200, 100)[0] - calibration.to_image(0, 100)[0]
    far = calibration.to_image(1200, 1600)[0] - calibration.to_image(0, 1600)[0]
    assert far > near


def test_too_few_or_collinear_marks_are_refused() -> None:
    with pytest.raises(ValueError, match="four"):
        FloorCalibration.from_points(IMAGE[:3], FLOOR[:3])
    with pytest.raises(ValueError, match="degenerate"):
        FloorCalibration.from_points([(0, 0), (1, 1), (2, 2), (3, 3)], FLOOR)
    with pytest.raises(ValueError, match="three of the four"):  # one mark taped on the line of two others
        FloorCalibration.from_points([(24.0, 102.0), (232.0, 102.0), (128.0, 102.0), (-40.0, 191.0)], FLOOR)
    with pytest.raises(ValueError, match="three of the four"):
        FloorCalibration.from_points(IMAGE, [(0.0, 100.0), (1200.0, 100.0), (600.0, 100.0), (0.0, 1600.0)])


def test_more_than_four_marks_are_fitted_even_with_three_in_a_row() -> None:
    image = [*IMAGE, (128.0, 102.0)]  # a fifth mark between the two near ones
    calibration = FloorCalibration.from_points(image, [*FLOOR, (600.0, 100.0)])
    assert calibration.to_floor(128.0, 102.0) == pytest.approx((600.0, 100.0), abs=2.0)

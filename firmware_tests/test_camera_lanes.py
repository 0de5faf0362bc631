"""Lane crops: each lane's region, scaled to the model's input, in lane order."""

import numpy as np
import pytest

from edge.camera.geometry import LaneRoi
from edge.camera.lanes import LaneCropper


def test_each_crop_holds_its_own_lanes_pixels_only() -> None:
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[10:50, 0:100] = (255, 0, 0)
    frame[10:50, 100:200] = (0, 0, 255)
    cropper = LaneCropper([LaneRoi(7, 100, 10, 200, 50), LaneRoi(3, 0, 10, 100, 50)], 32, (100, 200))
    crops = cropper.crop(frame)
    assert crops.shape == (2, 32, 32, 3) and crops.dtype == np.uint8
    assert cropper.lanes == [7, 3]
    assert (crops[0] == (0, 0, 255)).all() and (crops[1] == (255, 0, 0)).all()


def test_a_region_outside_the_frame_is_refused() -> None:
    with pytest.raises(ValueError, match="lane 2"):
        LaneCropper([LaneRoi(2, 150, 0, 250, 40)], 32, (100, 200))

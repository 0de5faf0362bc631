"""The frame renderer: frames agree with their ground truth, and are reproduced from a seed."""

import numpy as np

from hw.sim.camera_render import FrameSpec, Person, Reach, Renderer, ShelfView, lane_states

VIEW = ShelfView()
PRODUCTS = (3, 17, 42, 99)


def roi_pixels(frame: np.ndarray, index: int) -> np.ndarray:
    roi = VIEW.roi(index)
    return frame[roi.y0 : roi.y1, roi.x0 : roi.x1].astype(np.int32)


def test_a_reaching_arm_changes_its_lane_and_no_other() -> None:
    renderer = Renderer(VIEW)
    standing = renderer.render(FrameSpec(PRODUCTS, (Person(450, 350),), seed=2))
    reaching = renderer.render(FrameSpec(PRODUCTS, (Person(450, 350, reach=Reach(1, item_texture=17)),), seed=2))
    changed = [
        int((np.abs(roi_pixels(reaching, i) - roi_pixels(standing, i)).sum(axis=2) > 40).sum()) for i in range(4)
    ]
    assert changed[1] > 200
    assert max(changed[0], changed[2], changed[3]) < 20  # at most a shoulder at the shelf edge


def test_ground_truth_per_lane() -> None:
    spec = FrameSpec(PRODUCTS, (Person(100, 300, reach=Reach(0)), Person(900, 300, reach=Reach(3, item_texture=5))))
    assert lane_states(spec, 4) == [1, 0, 0, 2]
    assert lane_states(FrameSpec(PRODUCTS, (Person(500, 300, lean_lane=2),)), 4) == [0, 0, 0, 0]


def test_the_same_spec_renders_the_same_frame() -> None:
    renderer = Renderer(VIEW)
    spec = FrameSpec(PRODUCTS, (Person(600, 500),), seed=9)
    first, again = renderer.render(spec), renderer.render(spec)
    assert first.shape == (VIEW.height, VIEW.width, 3) and first.dtype == np.uint8
    assert (first == again).all()
    assert not (renderer.render(FrameSpec(PRODUCTS, (Person(600, 500),), seed=10)) == first).all()

"""The camera pipeline with the committed model on a rendered scene it has never seen:
every reach found on the right lanes and times, and attributed to whoever stood there."""

import math

import numpy as np
import pytest

from edge.camera.interaction import Reach
from edge.camera.model import DEFAULT_MODEL, HandLaneModel
from edge.camera.pipeline import CameraPipeline, reachers
from edge.runtime.config import CameraConfig
from hw.sim.camera_render import Renderer, ShelfView
from hw.sim.camera_scene import CameraScene, score, well_seen

FPS = 15


def test_each_lane_is_given_the_nearest_person_within_reach() -> None:
    fronts = {0: (150.0, 100.0), 1: (450.0, 100.0), 2: (750.0, 100.0)}
    people = [(160, 400, 900), (700, 1_500, 800), (500, 500, 700)]
    assert reachers(fronts, people, 900) == {0: (160, 400), 1: (500, 500), 2: (500, 500)}
    assert reachers(fronts, [], 900) == {}


@pytest.fixture(scope="module")
def run() -> tuple[CameraScene, list[Reach], list[tuple[int, list[tuple[int, int]], list[tuple[int, int, int]]]]]:
    view = ShelfView()
    scene = CameraScene(view, seed=31, duration_ms=70_000, held_out=True, visits_per_min=8)
    renderer = Renderer(view)
    camera = CameraConfig(shelf="shelf-01")
    pipeline = CameraPipeline(camera, HandLaneModel(DEFAULT_MODEL, len(camera.lanes), threads=1))
    found: list[Reach] = []
    seen = []
    end = 50_000
    for n in range(end * FPS // 1000):
        t = n * 1000 // FPS
        image = renderer.render(scene.spec(t))
        if n % 3 == 0:  # presence at 5 Hz
            seen.append((t, [(round(x), round(y)) for x, y in scene.people(t)], pipeline.people(t, image)))
        found += pipeline.lanes(t, image)
    found += pipeline.flush(end)
    return scene, found, seen


def test_reaches_are_found_on_their_lanes_and_times(run) -> None:  # type: ignore[no-untyped-def]
    scene, found, _ = run
    truth = [r for r in scene.truth() if r.t1 < 50_000 - 400]
    assert len(truth) >= 6, "the scene is busy enough to mean something"
    result = score(truth, found)
    assert not result.missed and not result.false, (result.missed, result.false)
    for true, got in result.matched:
        assert got.lanes == true.lanes
        assert abs(got.t0 - true.t0) <= 200 and abs(got.t1 - true.t1) <= 200, (true, got)
    holding = sum(got.holding == true.holding for true, got in result.matched)
    assert holding >= len(truth) - 1, [(t.holding, g.holding) for t, g in result.matched]


def test_a_reach_is_placed_where_its_shopper_stood(run) -> None:  # type: ignore[no-untyped-def]
    scene, found, _ = run
    result = score(scene.truth(), found)
    for true, got in result.matched:
        assert got.located, true
        assert math.dist((got.x_mm, got.y_mm), (true.x_mm, true.y_mm)) <= 250, (true, got)


def test_people_standing_at_the_shelf_are_seen_where_they_stand(run) -> None:  # type: ignore[no-untyped-def]
    _, _, seen = run
    errors = []
    for _, true, detected in seen[5:]:  # the first frames learn the background
        for x, y in true:
            if well_seen((x, y), true):
                near = [math.dist((x, y), (dx, dy)) for dx, dy, _ in detected]
                errors.append(min(near) if near else math.inf)
    assert len(errors) >= 50
    errors.sort()
    assert errors[int(0.95 * len(errors))] <= 150


class ScriptedModel:
    """Scores as if a hand were in lane 0 whenever `hand` is set: the model's interface only."""

    input_size = 32

    def __init__(self) -> None:
        self.hand = False

    def invoke(self, crops: np.ndarray) -> np.ndarray:
        rows = [[0.05, 0.9, 0.05] if self.hand and lane == 0 else [1.0, 0.0, 0.0] for lane in range(len(crops))]
        return np.asarray(rows, np.float32)


@pytest.mark.parametrize(("seen_at", "located"), [(1_900, True), (500, False)])
def test_people_seen_too_long_ago_are_not_taken_for_the_reacher(seen_at: int, located: bool) -> None:
    model = ScriptedModel()
    pipeline = CameraPipeline(CameraConfig(shelf="shelf-01"), model)
    pipeline.see(seen_at, [(150, 300, 900)])
    blank = np.zeros((192, 256, 3), np.uint8)
    found = []
    for t in range(1_800, 4_000, 100):
        model.hand = 2_000 <= t < 2_600
        found += pipeline.lanes(t, blank)
    assert [(r.lanes, r.located) for r in found] == [((0,), located)]

"""One camera's frames to lane interactions and people on the floor.

Two paths share the frames. The lane path runs on every frame: crop the lanes, one invoke of
the model, then the interaction tracker. The presence path runs a few times a second and finds
people on the floor. Its latest answer tells the lane path who stands at each lane: the
person nearest the lane's front, within reach, is taking part in whatever happens there.
A person standing at a shelf barely moves in the fifth of a second between two presence
answers. The app runs presence in a process of its own so that it never holds up a frame
(edge/camera/presence_process.py). Here both are plain calls, so that a recorded sequence
gives the same answer every time.
"""

import math
from typing import Protocol

import numpy as np

from edge.camera.geometry import FloorCalibration, LaneRoi
from edge.camera.interaction import InteractionConfig, InteractionTracker, LaneScores, Reach
from edge.camera.lanes import LaneCropper
from edge.camera.presence import Person, PresenceConfig, PresenceDetector
from edge.runtime.config import CameraConfig


def floor_calibration(camera: CameraConfig) -> FloorCalibration:
    return FloorCalibration.from_points(
        [(float(u), float(v)) for u, v in camera.floor_image], [(float(x), float(y)) for x, y in camera.floor_mm]
    )


def presence_detector(camera: CameraConfig) -> PresenceDetector:
    return PresenceDetector(floor_calibration(camera), PresenceConfig(floor_top=camera.floor_top))


STALE_MS = 1_000


class LaneModel(Protocol):
    input_size: int

    def invoke(self, crops: np.ndarray) -> np.ndarray: ...


def reachers(
    lane_floor: dict[int, tuple[float, float]], people: list[Person], reach_mm: int
) -> dict[int, tuple[int, int]]:
    """Each lane's nearest person within reach_mm of its front, where there is one."""
    found = {}
    for lane, front in lane_floor.items():
        near = [(math.dist(front, (x, y)), x, y) for x, y, _ in people]
        if near and (best := min(near))[0] <= reach_mm:
            found[lane] = (best[1], best[2])
    return found


class CameraPipeline:
    def __init__(self, camera: CameraConfig, model: LaneModel, interaction: InteractionConfig | None = None) -> None:
        rois = [LaneRoi(lane, *roi) for lane, roi in zip(camera.lanes, camera.rois, strict=True)]
        self._lanes = camera.lanes
        self._cropper = LaneCropper(rois, model.input_size, (camera.height, camera.width))
        self._model = model
        self._tracker = InteractionTracker(camera.lanes, interaction or InteractionConfig())
        calibration = floor_calibration(camera)
        self._presence = presence_detector(camera)
        # A lane's front edge seen on the floor plane: where a shopper reaching in stands nearest to.
        self._lane_floor = {roi.lane: calibration.to_floor((roi.x0 + roi.x1) / 2, roi.y1) for roi in rois}
        self._reach_mm = camera.reach_mm
        self._reachers: dict[int, tuple[int, int]] = {}
        self._reachers_t: int | None = None  # the frame they were seen in
        self.last_scores: list[LaneScores] = []  # the latest frame's, for the console's `read`

    def crop(self, image: np.ndarray) -> np.ndarray:
        """Each lane's region scaled to the model's input, in the order of the lanes."""
        return self._cropper.crop(image)

    def lanes(self, t_ms: int, image: np.ndarray) -> list[Reach]:
        """The lane path, for every frame: the interactions this frame completes."""
        scores = self._model.invoke(self.crop(image))
        lane_scores = [
            LaneScores(lane, empty, hand, item)
            for lane, (empty, hand, item) in zip(self._lanes, scores.tolist(), strict=True)
        ]
        self.last_scores = lane_scores
        seen_t = self._reachers_t
        fresh = seen_t is not None and abs(t_ms - seen_t) <= STALE_MS
        return self._tracker.add(t_ms, lane_scores, self._reachers if fresh else {})

    def people(self, t_ms: int, image: np.ndarray) -> list[Person]:
        """The presence path, in line: people on the floor in this frame, who become the lanes' reachers."""
        found = self._presence.add(image)
        self.see(t_ms, found)
        return found

    def see(self, t_ms: int, people: list[Person]) -> None:
        """The people on the floor in the frame at t_ms, found here or by a presence process.
        They stand for the reachers until STALE_MS later: a presence path that has stopped
        answering must not pin later reaches on whoever stood there then."""
        self._reachers = reachers(self._lane_floor, people, self._reach_mm)
        self._reachers_t = t_ms

    @property
    def reaching(self) -> dict[int, tuple[int, int]]:
        """Each lane's nearest person within reach, as last seen."""
        return self._reachers

    @property
    def stuck(self) -> list[int]:
        return self._tracker.stuck

    def flush(self, t_ms: int) -> list[Reach]:
        return self._tracker.flush(t_ms)

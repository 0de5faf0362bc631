"""The `sim` frame source of a camera node: the scripted scene of hw/sim/camera_scene.py
rendered in real time. It runs on the reference mount (hw/sim/camera_render.ShelfView),
so the node's [camera] geometry must be that mount's. Like a real camera that a slow
consumer falls behind, it drops frames rather than running late."""

import time
from collections.abc import Callable

from edge.camera.sources import Frame
from edge.protocol.clock import wall_ms
from edge.protocol.configfile import ConfigError
from edge.runtime.config import CameraConfig
from hw.sim.camera_render import Renderer, ShelfView
from hw.sim.camera_scene import CameraScene

DAY_MS = 24 * 3600 * 1000


def check_reference_mount(camera: CameraConfig, view: ShelfView) -> None:
    image, floor = view.floor_marks()
    if (
        (camera.width, camera.height) != (view.width, view.height)
        or camera.rois != [(r.x0, r.y0, r.x1, r.y1) for r in view.rois()]
        or camera.floor_image != [(round(u), round(v)) for u, v in image]
        or camera.floor_mm != floor
    ):
        raise ConfigError("the sim camera renders the reference mount: leave [camera] size, rois and floor marks unset")


class SimCameraSource:
    def __init__(
        self,
        camera: CameraConfig,
        seed: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.view = ShelfView(lanes=tuple(camera.lanes))
        check_reference_mount(camera, self.view)
        self.scene = CameraScene(self.view, seed, DAY_MS)
        self._renderer = Renderer(self.view)
        self._period = 1.0 / camera.fps
        self._clock, self._sleep = clock, sleep
        self._started = clock()
        self.wall0 = wall_ms()
        self._n = -1
        self.dropped = 0

    def read(self) -> Frame:
        behind = int((self._clock() - self._started) / self._period)
        n = max(self._n + 1, behind)
        self.dropped += n - self._n - 1
        self._n = n
        delay = self._started + n * self._period - self._clock()
        if delay > 0:
            self._sleep(delay)
        scene_ms = round(n * self._period * 1000)
        return Frame(self.wall0 + scene_ms, self._renderer.render(self.scene.spec(scene_ms)))

    def close(self) -> None:
        """Nothing to release: the scene is pure and the renderer holds no device."""

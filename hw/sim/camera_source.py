"""The `sim` frame source of a camera node: a scene rendered in real time on the reference
mount (hw/sim/camera_render.ShelfView), so the node's [camera] size and rois must be that
mount's. The scene is the store world's people at the camera's shelf when the node is
given a drive (hw/sim/world/drives.py), on the wall clock the drive shares with every node
of the store; its floor marks are then the mount's marks placed at that shelf on the store
floor. Without a drive, it is a scripted scene of its own (hw/sim/camera_scene.py), and the
floor marks are the mount's own. Like a real camera that a slow consumer falls behind, it
drops frames rather than running late."""

import time
from collections.abc import Callable

from edge.camera.sources import Frame
from edge.protocol.clock import wall_ms
from edge.protocol.configfile import ConfigError
from edge.runtime.config import CameraConfig
from hw.sim.camera_render import Renderer, ShelfView
from hw.sim.camera_scene import CameraScene
from hw.sim.world.drives import CameraDrive, to_store

DAY_MS = 24 * 3600 * 1000


def reference_floor_mm(view: ShelfView, drive: CameraDrive | None) -> list[tuple[int, int]]:
    """The reference mount's floor marks in store millimetres: where the drive puts its shelf."""
    _, floor = view.floor_marks()
    placed = floor if drive is None else [to_store(drive, x, y) for x, y in floor]
    return [(round(x), round(y)) for x, y in placed]


def check_reference_mount(camera: CameraConfig, view: ShelfView, drive: CameraDrive | None = None) -> None:
    image, _ = view.floor_marks()
    if (
        (camera.width, camera.height) != (view.width, view.height)
        or camera.rois != [(r.x0, r.y0, r.x1, r.y1) for r in view.rois()]
        or camera.floor_image != [(round(u), round(v)) for u, v in image]
    ):
        raise ConfigError("the sim camera renders the reference mount: leave [camera] size, rois and floor_image unset")
    if camera.floor_mm != reference_floor_mm(view, drive):
        where = "its shelf's place in the world drive" if drive else "the mount's own"
        raise ConfigError(f"the sim camera's [camera] floor_mm must be {where}: {reference_floor_mm(view, drive)}")
    if drive is not None and drive.shelf != camera.shelf:
        raise ConfigError(f"the world drive is of shelf {drive.shelf}, the camera watches {camera.shelf}")


class SimCameraSource:
    def __init__(
        self,
        camera: CameraConfig,
        seed: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        drive: CameraDrive | None = None,
        wall: Callable[[], int] = wall_ms,
    ) -> None:
        self.view = ShelfView(lanes=tuple(camera.lanes))
        check_reference_mount(camera, self.view, drive)
        self.scene = CameraScene(self.view, seed, DAY_MS, drive=drive)
        self._renderer = Renderer(self.view)
        self._period = 1.0 / camera.fps
        self._clock, self._sleep = clock, sleep
        now = wall()
        # the scene's time 0: now for a scene of its own, the drive's start for the world's
        self.wall0 = now if drive is None else drive.wall0_ms
        self._started = clock() - (now - self.wall0) / 1000
        self._n = int((clock() - self._started) / self._period) - 1
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

"""Frame sources of a camera node, and the one place that picks one from the config's
hardware backend: `picamera2` (the Pi's camera), `replay` (a folder of recorded frames) or
`sim` (a rendered scene of shoppers at the shelf)."""

from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np

from edge.protocol.configfile import ConfigError, resolve
from edge.runtime.config import NodeConfig


class Frame(NamedTuple):
    t_ms: int  # when it was exposed, on the node's clock (wall ms)
    image: np.ndarray  # height x width x 3 uint8, RGB


class FrameSource(Protocol):
    def read(self) -> Frame | None:
        """Block until the next frame; None when a recording has run out."""
        ...

    def close(self) -> None: ...


def open_source(config: NodeConfig, base: Path) -> FrameSource:
    camera, hardware = config.camera, config.hardware
    if camera is None:
        raise ConfigError("a camera node needs a [camera] table (shelf, lanes, rois, floor marks)")
    size = (camera.width, camera.height)
    if hardware.backend == "picamera2":
        from edge.camera.picamera2_source import Picamera2Source

        return Picamera2Source(size, camera.fps, camera.format)
    if hardware.backend == "replay":
        from edge.camera.replay_source import ReplaySource

        if hardware.path is None:
            raise ConfigError("[hardware] path names the folder of recorded frames for backend replay")
        return ReplaySource(resolve(base, hardware.path), size, camera.fps)
    if hardware.backend == "sim":
        from hw.sim.camera_source import SimCameraSource
        from hw.sim.world.drives import CameraDrive, load_drive

        drive = None if hardware.drive is None else load_drive(resolve(base, hardware.drive), CameraDrive)
        return SimCameraSource(camera, hardware.seed, drive=drive)
    raise ConfigError(
        f"hardware backend {hardware.backend!r} is not available for cameras in this build (picamera2, replay, sim)"
    )

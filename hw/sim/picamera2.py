"""A stand-in for the `picamera2` and `libcamera` modules, showing a simulated camera, so
that the node's picamera2 source runs unchanged against frames with known content.

`install(camera)` puts both modules in `sys.modules`. The subset is what the node uses:
video configurations with a lores stream, start/stop, capture_request with make_array and
metadata. Frames are laid out as libcamera lays them out: YUV420 as (height * 3/2) x stride
with each row padded to the stride alignment; RGB888 as [B, G, R] per pixel. Only the sYCC
colour space (full-range BT.601) is simulated.
"""

import sys
import time
import types
from collections.abc import Callable
from typing import Any

import numpy as np


class ColorSpace:
    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    def Sycc(cls) -> "ColorSpace":  # noqa: N802 - libcamera's name
        return cls("sYCC")


def rgb_to_yuv420(rgb: np.ndarray, stride: int) -> np.ndarray:
    """Full-range BT.601, chroma averaged over 2x2 blocks, rows padded to `stride` bytes."""
    height, width, _ = rgb.shape
    r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
    y = 0.299 * r + 0.587 * g + 0.114 * b
    u = -0.168736 * r - 0.331264 * g + 0.5 * b + 128
    v = 0.5 * r - 0.418688 * g - 0.081312 * b + 128
    out = np.full((height * 3 // 2, stride), 255, np.uint8)  # padding is garbage to the reader: make it loud
    out[:height, :width] = np.clip(np.rint(y), 0, 255)
    chroma = np.full((2, height // 2, stride // 2), 255, np.uint8)  # U then V, two half rows per array row
    for index, plane in enumerate((u, v)):
        half = plane.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))
        chroma[index, :, : width // 2] = np.clip(np.rint(half), 0, 255)
    out[height:] = chroma.reshape(height // 2, stride)
    return out


class SimCamera:
    """What the lens sees: `scene(t_ms)` is the RGB frame at t_ms after start."""

    def __init__(self, scene: Callable[[int], np.ndarray], stride_align: int = 64, size_align: int = 2) -> None:
        self.scene = scene
        self.stride_align = stride_align
        self.size_align = size_align  # libcamera rounds stream sizes to what the ISP can scale to
        self.opened = 0
        self.closed = 0


class _Request:
    def __init__(self, arrays: dict[str, np.ndarray], metadata: dict[str, Any]) -> None:
        self._arrays, self._metadata = arrays, metadata
        self.released = False

    def make_array(self, name: str) -> np.ndarray:
        return self._arrays[name].copy()

    def get_metadata(self) -> dict[str, Any]:
        return dict(self._metadata)

    def release(self) -> None:
        self.released = True


class Picamera2:
    camera: SimCamera | None = None  # set by install()

    def __init__(self, camera_num: int = 0) -> None:
        if Picamera2.camera is None:
            raise RuntimeError("Camera __init__ sequence did not complete.")  # what picamera2 says with no camera
        self._sim = Picamera2.camera
        self._sim.opened += 1
        self.camera_config: dict[str, Any] = {}
        self._started_ns = 0
        self._n = 0

    def create_video_configuration(self, main: dict[str, Any] | None = None, lores: dict[str, Any] | None = None,
                                   colour_space: ColorSpace | None = None, controls: dict[str, Any] | None = None,
                                   buffer_count: int = 6) -> dict[str, Any]:  # fmt: skip
        if colour_space is not None and colour_space.name != "sYCC":
            raise ValueError("the simulated camera only does sYCC")
        return {
            "main": {"size": (main or {}).get("size", (1280, 720)), "format": (main or {}).get("format", "XBGR8888")},
            "lores": dict(lores) if lores else None,
            "controls": dict(controls or {}),
            "buffer_count": buffer_count,
        }

    def configure(self, config: dict[str, Any]) -> None:
        lores = config["lores"]
        if lores is None:
            raise ValueError("no lores stream configured")
        align = self._sim.size_align
        width, height = (-(-n // align) * align for n in lores["size"])
        pixel_format = lores.get("format", "YUV420")
        row = width if pixel_format == "YUV420" else width * 3
        align = self._sim.stride_align
        lores = {**lores, "size": (width, height), "format": pixel_format, "stride": -(-row // align) * align}
        self.camera_config = {**config, "lores": lores}

    def start(self) -> None:
        self._started_ns = time.monotonic_ns()
        self._n = 0

    def capture_request(self) -> _Request:
        period_ns = round(1e9 / self.camera_config["controls"].get("FrameRate", 30))
        # A reader that falls behind gets the newest frame: the ones in between were overwritten.
        behind = (time.monotonic_ns() - self._started_ns) // period_ns - 1
        self._n = max(self._n, behind)
        exposed = self._started_ns + self._n * period_ns
        self._n += 1
        wait = exposed + period_ns - time.monotonic_ns()  # delivered a frame time after exposure starts
        if wait > 0:
            time.sleep(wait / 1e9)
        lores = self.camera_config["lores"]
        rgb = self._sim.scene((exposed - self._started_ns) // 1_000_000)
        if lores["format"] == "YUV420":
            array = rgb_to_yuv420(rgb, lores["stride"])
        elif lores["format"] == "RGB888":
            array = np.ascontiguousarray(rgb[..., ::-1])
        else:
            array = rgb.copy()
        return _Request({"lores": array}, {"SensorTimestamp": exposed})

    def stop(self) -> None:
        self._started_ns = 0

    def close(self) -> None:
        self._sim.closed += 1


def install(camera: SimCamera | None) -> SimCamera | None:
    """Put the stand-in modules in place, showing `camera` (None: no camera is connected)."""
    Picamera2.camera = camera
    picamera2 = types.ModuleType("picamera2")
    picamera2.Picamera2 = Picamera2  # type: ignore[attr-defined]
    libcamera = types.ModuleType("libcamera")
    libcamera.ColorSpace = ColorSpace  # type: ignore[attr-defined]
    sys.modules["picamera2"] = picamera2
    sys.modules["libcamera"] = libcamera
    return camera


def uninstall() -> None:
    Picamera2.camera = None
    sys.modules.pop("picamera2", None)
    sys.modules.pop("libcamera", None)

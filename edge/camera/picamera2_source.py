"""Frames from the Pi's camera through picamera2 (extra `pi`; from apt on Pi OS).

The node works on the low-resolution stream ("lores"), which the ISP scales from the full
sensor for free. On a Pi 4 and earlier lores must be YUV420. There the array picamera2
hands out is (height * 3/2) x stride: the Y rows, then U and V with two half-width rows
per array row. The stride is the row length rounded up for the hardware, so the padding
on the right is cut off before the pixels are used. The colour space is asked for as sYCC
(full-range BT.601, as in JPEG), so the conversion below is the matching one. A Pi 5 can
also give lores as RGB888, which picamera2 lays out as [B, G, R] per pixel (BGR888 is
[R, G, B]). Frames are stamped with the sensor's exposure time on CLOCK_MONOTONIC, mapped
onto the node's wall clock, not with the time they were read.
"""

import time
from typing import Any

import numpy as np

from edge.camera.sources import Frame
from edge.protocol.clock import wall_ms

FULL_SIZE = (1280, 960)  # the main stream (unused by the node), 4:3 like the sensor's binned modes


def yuv420_to_rgb(array: np.ndarray, width: int, height: int) -> np.ndarray:
    """Full-range BT.601 YUV420 planes, padded rows and all, to height x width x 3 RGB."""
    stride = array.shape[1]
    if array.shape[0] != height * 3 // 2 or stride < width:
        raise ValueError(
            f"a {width}x{height} YUV420 frame is {height * 3 // 2} rows of at least {width}, not {array.shape}"
        )
    luma = array[:height, :width].astype(np.float32)
    chroma = array[height:].reshape(2, height // 2, stride // 2)[:, :, : width // 2].astype(np.float32) - 128.0
    u, v = (plane.repeat(2, axis=0).repeat(2, axis=1) for plane in chroma)
    rgb = np.empty((height, width, 3), np.float32)
    rgb[..., 0] = luma + 1.402 * v
    rgb[..., 1] = luma - 0.344136 * u - 0.714136 * v
    rgb[..., 2] = luma + 1.772 * u
    return np.clip(rgb, 0, 255).astype(np.uint8)


def to_rgb(array: np.ndarray, pixel_format: str, width: int, height: int) -> np.ndarray:
    if pixel_format == "YUV420":
        return yuv420_to_rgb(array, width, height)
    if pixel_format == "RGB888":  # picamera2 names formats by the DRM convention: [B, G, R] in memory
        return np.ascontiguousarray(array[:height, :width, ::-1])
    if pixel_format == "BGR888":
        return np.ascontiguousarray(array[:height, :width])
    raise ValueError(f"lores format {pixel_format} is not one the node reads (YUV420, RGB888, BGR888)")


class Picamera2Source:
    def __init__(self, size: tuple[int, int], fps: int, pixel_format: str) -> None:
        from libcamera import ColorSpace
        from picamera2 import Picamera2

        self._width, self._height = size
        self._camera: Any = Picamera2()
        try:
            config = self._camera.create_video_configuration(
                main={"size": FULL_SIZE},
                lores={"size": size, "format": pixel_format},
                colour_space=ColorSpace.Sycc(),
                controls={"FrameRate": fps},
                buffer_count=4,
            )
            self._camera.configure(config)
            lores = self._camera.camera_config["lores"]
            if tuple(lores["size"]) != size:  # libcamera may align a size: the regions would be off
                raise ValueError(f"the camera gives a {lores['size']} lores stream, not the configured {size}")
            self._format = lores["format"]
            self._camera.start()
        except BaseException:
            self._camera.close()
            raise

    def read(self) -> Frame:
        request = self._camera.capture_request()
        try:
            array = request.make_array("lores")
            exposed_ns = request.get_metadata()["SensorTimestamp"]
        finally:
            request.release()
        age_ms = (time.monotonic_ns() - exposed_ns) // 1_000_000
        return Frame(wall_ms() - age_ms, to_rgb(array, self._format, self._width, self._height))

    def close(self) -> None:
        self._camera.stop()
        self._camera.close()

"""Frames replayed from a folder of recorded images (PNG or JPEG, through Pillow), for
checking a camera node against footage from a store, or fine-tuning on it.

Frames play in file-name order, paced in real time. When every file is named by an integer
(`001250.png`), that is its time in milliseconds from the start of the recording, and
gaps are kept. Otherwise the frames are spaced at the camera's frame rate. Frames from a video
come out of `ffmpeg -i clip.mp4 -vf fps=15,scale=256:192 frames/%06d.png`. Every image must
be the size the node is configured for, because the regions and the floor marks are in its
pixels.
"""

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edge.camera.sources import Frame
from edge.protocol.clock import wall_ms

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


class ReplaySource:
    def __init__(
        self,
        folder: Path,
        size: tuple[int, int],
        fps: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not folder.is_dir():
            raise FileNotFoundError(f"no folder of recorded frames at {folder}")
        self._files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self._files:
            raise FileNotFoundError(f"{folder} holds no PNG or JPEG frames")
        stems = [p.stem for p in self._files]
        if all(stem.isdigit() for stem in stems):
            self._files.sort(key=lambda p: int(p.stem))
            first = int(self._files[0].stem)
            self._offsets_ms = [int(p.stem) - first for p in self._files]
        else:
            self._offsets_ms = [round(n * 1000 / fps) for n in range(len(self._files))]
        self._size = size
        self._clock, self._sleep = clock, sleep
        self._started = clock()
        self._wall0 = wall_ms()
        self._next = 0

    def read(self) -> Frame | None:
        from PIL import Image

        if self._next >= len(self._files):
            return None
        path, offset_ms = self._files[self._next], self._offsets_ms[self._next]
        self._next += 1
        delay = self._started + offset_ms / 1000 - self._clock()
        if delay > 0:
            self._sleep(delay)
        with Image.open(path) as image:
            rgb = np.asarray(image.convert("RGB"))
        if (rgb.shape[1], rgb.shape[0]) != self._size:
            raise ValueError(
                f"{path.name} is {rgb.shape[1]}x{rgb.shape[0]}, the camera is set for {self._size[0]}x{self._size[1]}"
            )
        return Frame(self._wall0 + offset_ms, rgb)

    def close(self) -> None:
        self._next = len(self._files)

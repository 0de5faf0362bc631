"""The camera's console commands: `read` (each lane's scores in the latest frame) and
`camera stats` (frame rate, model time, what presence skipped). Nothing of an image ever
leaves through the console."""

import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from edge.camera.pipeline import CameraPipeline
from edge.protocol.diag import DiagError, ErrorCode, Record
from edge.runtime.config import CameraConfig
from edge.runtime.diag import DiagCommand, no_args
from edge.runtime.node import Node

WINDOW = 150  # frames the rates and times are taken over: 10 s at 15 fps


@dataclass
class FrameTimes:
    """When the latest frames arrived and how long their lane path took; the app's loop adds,
    the console reads."""

    arrived: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))
    lanes_ms: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, arrived: float, lanes_ms: float) -> None:
        with self._lock:
            self.arrived.append(arrived)
            self.lanes_ms.append(lanes_ms)

    def last(self) -> float | None:
        """When the latest frame arrived (monotonic), if any has."""
        with self._lock:
            return self.arrived[-1] if self.arrived else None

    def summary(self) -> tuple[int, int, int]:
        """Frames per second x 10, and the lane path's median and worst ms, over the window."""
        with self._lock:
            arrived, took = list(self.arrived), list(self.lanes_ms)
        if len(arrived) < 2:
            return 0, 0, 0
        fps10 = round(10 * (len(arrived) - 1) / max(1e-6, arrived[-1] - arrived[0]))
        return fps10, round(statistics.median(took)), round(max(took))


def camera_commands(node: Node, camera: CameraConfig, pipeline: CameraPipeline, times: FrameTimes) -> list[DiagCommand]:
    def read(args: list[str]) -> list[Record]:
        no_args(args, "read")
        scores = pipeline.last_scores
        if not scores:
            raise DiagError(ErrorCode.UNAVAILABLE, "no frame yet; the camera is starting")
        reaching, stuck = pipeline.reaching, set(pipeline.stuck)
        return [
            {
                "lane": s.lane,
                "hand_pm": round(1000 * s.hand),
                "item_pm": round(1000 * s.item),
                "empty_pm": round(1000 * s.empty),
                "reacher_mm": "-" if s.lane not in reaching else "{},{}".format(*reaching[s.lane]),
                "stuck": "yes" if s.lane in stuck else "no",
            }
            for s in scores
        ]

    def stats(args: list[str]) -> list[Record]:
        no_args(args, "camera stats")
        fps10, median_ms, worst_ms = times.summary()
        last = times.last()
        since = None if last is None else time.monotonic() - last
        return [
            {
                "source": node.config.hardware.backend,
                "size": f"{camera.width}x{camera.height}",
                "frames": node.counters["frames"],
                "fps_x10": fps10,
                "lanes_median_ms": median_ms,
                "lanes_worst_ms": worst_ms,
                "last_frame_ms_ago": "-" if since is None else round(since * 1000),
                "presence_dropped": node.counters["presence_dropped"],
                "lanes_stuck": node.counters["lanes_stuck"],
            }
        ]

    return [
        DiagCommand("read", "", "each lane in the latest frame: hand, item, empty (per mille), reacher", read),
        DiagCommand("camera stats", "", "frame rate, the lane path's time, frames presence skipped", stats),
    ]

"""The camera node's app: frames from the source through the pipeline, `interaction` events
and `presence` detections out through the node runtime.

The lane path runs on this thread for every frame. Presence runs on a thread of its own,
presence_hz times a second of frame time: it is always handed the latest frame due, and a
frame it has not yet started on is replaced (counted in `presence_dropped`), so a slow
presence answer never delays the lanes. LiteRT lets go of the GIL while it invokes, so the
two paths share the CPU cores. When a replayed recording ends, the open interactions are
closed and the node idles until it is stopped.
"""

import logging
import threading
from collections.abc import Callable

from edge.camera.interaction import Reach
from edge.camera.model import DEFAULT_MODEL, HandLaneModel
from edge.camera.pipeline import CameraPipeline
from edge.camera.presence import Person
from edge.camera.sources import Frame, open_source
from edge.protocol.configfile import ConfigError, resolve
from edge.protocol.messages import Interaction, Presence
from edge.runtime.node import UNSTAMPED, Node

log = logging.getLogger(__name__)


class PresenceWorker:
    """Runs the presence path on the latest frame handed to it, one at a time."""

    def __init__(self, find: Callable[[Frame], None], block: bool = False) -> None:
        self._find = find
        self._block = block  # wait for a free slot instead of replacing (benchmarks: every frame counts)
        self._slot: Frame | None = None
        self._closed = False
        self._changed = threading.Condition()
        self.dropped = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="presence", daemon=True)
        self._thread.start()

    def offer(self, frame: Frame) -> None:
        with self._changed:
            if self.error is not None:
                raise RuntimeError("the presence path failed") from self.error
            while self._block and self._slot is not None:
                self._changed.wait()
            if self._slot is not None:
                self.dropped += 1
            self._slot = frame
            self._changed.notify_all()

    def close(self) -> None:
        """Finish the frame in hand, then stop."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._changed:
                while self._slot is None and not self._closed:
                    self._changed.wait()
                frame, self._slot = self._slot, None
                self._changed.notify_all()
            if frame is None:
                return
            try:
                self._find(frame)
            except BaseException as error:  # handed to the lane thread, which stops the app
                log.exception("presence failed")
                with self._changed:
                    self.error = error
                return


def interaction(shelf: str, reach: Reach) -> Interaction:
    return Interaction(
        **UNSTAMPED,
        shelf=shelf,
        lanes=list(reach.lanes),
        t0=reach.t0,
        t1=reach.t1,
        x_mm=reach.x_mm,
        y_mm=reach.y_mm,
        conf_pm=reach.conf_pm,
        holding=reach.holding,
    )


def run_camera(node: Node, stopping: threading.Event) -> None:
    camera = node.config.camera
    if camera is None:
        raise ConfigError("a camera node needs a [camera] table (shelf, lanes, rois, floor marks)")
    model_path = resolve(node.base, camera.model) if camera.model else DEFAULT_MODEL
    pipeline = CameraPipeline(camera, HandLaneModel(model_path, len(camera.lanes), camera.threads))
    source = open_source(node.config, node.base)

    def find_people(frame: Frame) -> None:
        people: list[Person] = pipeline.people(frame.image)
        node.emit(Presence(**UNSTAMPED, people=people), ts=frame.t_ms)

    presence = PresenceWorker(find_people)
    period_ms = 1000 / camera.presence_hz
    next_presence = 0.0
    last_t = 0
    try:
        while not stopping.is_set():
            frame = source.read()
            if frame is None:
                log.info("the recording has ended: closing open interactions, idling until stopped")
                break
            node.counters["frames"] += 1
            last_t = frame.t_ms
            for reach in pipeline.lanes(frame.t_ms, frame.image):
                node.emit(interaction(camera.shelf, reach))
            if frame.t_ms >= next_presence:
                presence.offer(frame)
                next_presence = max(
                    next_presence + period_ms, frame.t_ms + period_ms / 2
                )  # the cadence, or afresh after a gap
            node.counters["presence_dropped"] = presence.dropped
        for reach in pipeline.flush(last_t):
            node.emit(interaction(camera.shelf, reach))
        stopping.wait()
    finally:
        presence.close()
        source.close()

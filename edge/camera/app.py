"""The camera node's app: frames from the source through the pipeline, `interaction` events
and `presence` detections out through the node runtime.

The lane path runs on this thread for every frame. Presence runs in a process of its own,
presence_hz times a second of frame time: a frame due while it is still busy with the last
one is skipped (counted in `presence_dropped`), so a slow presence answer never delays the
lanes. When a replayed recording ends, the open interactions are closed and the node idles
until it is stopped.
"""

import contextlib
import logging
import threading
import time

from edge.camera.diag import FrameTimes, camera_commands
from edge.camera.interaction import Reach
from edge.camera.model import DEFAULT_MODEL, HandLaneModel
from edge.camera.pipeline import CameraPipeline
from edge.camera.presence import Person
from edge.camera.presence_process import PresenceProcess
from edge.camera.sources import open_source
from edge.protocol.configfile import ConfigError, resolve
from edge.protocol.messages import UNSTAMPED, Interaction, Presence
from edge.runtime.node import Node

log = logging.getLogger(__name__)


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
    times = FrameTimes()
    node.diag.add(*camera_commands(node, camera, pipeline, times))

    def seen(t_ms: int, people: list[Person]) -> None:
        pipeline.see(t_ms, people)
        node.emit(Presence(**UNSTAMPED, people=people), ts=t_ms)

    period_ms = 1000 / camera.presence_hz
    next_presence = 0.0
    last_t = 0
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(source.close)
        presence = PresenceProcess(camera, seen)
        cleanup.callback(presence.close)
        while not stopping.is_set():
            frame = source.read()
            node.beat()
            if frame is None:
                log.info("the recording has ended: closing open interactions, idling until stopped")
                break
            node.counters["frames"] += 1
            last_t = frame.t_ms
            started = time.monotonic()
            reaches = pipeline.lanes(frame.t_ms, frame.image)
            times.add(started, (time.monotonic() - started) * 1000)
            for reach in reaches:
                node.emit(interaction(camera.shelf, reach))
            if frame.t_ms >= next_presence:
                presence.offer(frame)
                # Keep the cadence, or start it afresh after a gap in the frames.
                next_presence = max(next_presence + period_ms, frame.t_ms + period_ms / 2)
            node.counters["presence_dropped"] = presence.dropped
            node.counters["lanes_stuck"] = len(pipeline.stuck)
        for reach in pipeline.flush(last_t):
            node.emit(interaction(camera.shelf, reach))
        while not stopping.wait(1.0):
            node.beat()

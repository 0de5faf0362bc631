"""The presence path in a child process of its own, fed frames through shared memory.

On a thread, presence's stretches of Python would hold the GIL while the lane path waits
to hand the next crops to the model. In a separate process the two never wait for each
other, and a Pi 5's four cores run both. The floor part of a frame, all that presence
looks at, passes through one shared-memory slot. The lane thread copies a frame in only
when the child has finished with the last one, and otherwise drops it (or waits, when
every frame must count, as in benchmarks). Results come
back over a pipe to a receiver thread, which hands them to `on_people`.
"""

import logging
import multiprocessing
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.shared_memory import SharedMemory

import numpy as np

from edge.camera.pipeline import presence_detector
from edge.camera.presence import Person
from edge.camera.sources import Frame
from edge.runtime.config import CameraConfig

log = logging.getLogger(__name__)


def _floor_shape(camera: CameraConfig) -> tuple[int, ...]:
    return presence_detector(camera).floor(np.empty((camera.height, camera.width, 3), np.uint8)).shape


def _serve(camera: CameraConfig, memory_name: str, link: Connection) -> None:
    memory = SharedMemory(memory_name)
    try:
        floor = np.ndarray(_floor_shape(camera), np.uint8, memory.buf)
        detector = presence_detector(camera)
        while (t_ms := link.recv()) is not None:
            link.send((t_ms, detector.add_floor(floor)))
        del floor  # the buffer must have no views left when it closes
    finally:
        memory.close()


class PresenceProcess:
    def __init__(self, camera: CameraConfig, on_people: Callable[[int, list[Person]], None], block: bool = False):
        self._on_people = on_people
        self._block = block
        self._floor = presence_detector(camera).floor  # only the floor is copied across
        shape = _floor_shape(camera)
        self._memory = SharedMemory(create=True, size=int(np.prod(shape)))
        self._slot = np.ndarray(shape, np.uint8, self._memory.buf)
        self._link, child_link = multiprocessing.Pipe()
        # spawn, not fork: the node has threads (the MQTT link's), which fork would copy mid-flight
        context = multiprocessing.get_context("spawn")
        self._process = context.Process(
            target=_serve, args=(camera, self._memory.name, child_link), name="presence", daemon=True
        )
        self._process.start()
        child_link.close()
        self._busy = False
        self._closing = False
        self._changed = threading.Condition()
        self.dropped = 0
        self.error: BaseException | None = None
        self._receiver = threading.Thread(target=self._receive, name="presence-results", daemon=True)
        self._receiver.start()

    def offer(self, frame: Frame) -> None:
        with self._changed:
            while self._block and self._busy and self.error is None:
                self._changed.wait()
            if self.error is not None:
                raise RuntimeError("the presence process failed") from self.error
            if self._busy:
                self.dropped += 1
                return
            self._busy = True
        np.copyto(self._slot, self._floor(frame.image))
        self._link.send(frame.t_ms)

    def wait(self) -> None:
        """Until the child has answered for the frame in hand."""
        with self._changed:
            while self._busy and self.error is None:
                self._changed.wait()

    def close(self) -> None:
        """Let the child finish the frame in hand, then stop it."""
        self.wait()
        with self._changed:
            self._closing = True
        if self.error is None:
            self._link.send(None)
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
        self._receiver.join(10)
        self._link.close()
        del self._slot
        self._memory.close()
        self._memory.unlink()

    def _receive(self) -> None:
        while True:
            try:
                t_ms, people = self._link.recv()
            except (EOFError, OSError) as gone:
                with self._changed:
                    if not self._closing:
                        self.error = gone
                        log.error("the presence process ended unexpectedly (exit code %s)", self._process.exitcode)
                    self._changed.notify_all()
                return
            try:
                self._on_people(t_ms, people)
            except BaseException as error:
                log.exception("handling presence failed")
                with self._changed:
                    self.error = error
                    self._changed.notify_all()
                return
            with self._changed:
                self._busy = False
                self._changed.notify_all()

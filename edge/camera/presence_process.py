"""The presence path in a child process of its own, fed frames through shared memory.

On a thread, presence's stretches of Python would hold the GIL while the lane path waits
to hand the next crops to the model. In a separate process the two never wait for each
other, and a Pi 5's four cores run both. The floor rows of a frame, all that presence
looks at, pass through one shared-memory slot. The lane thread only hands a frame over, and
only when the child has answered for the last one; otherwise it drops the frame (or waits,
when every frame must count, as in benchmarks). A courier thread copies the frame across,
signals the child over a pipe, and hands the answer to `on_people`, while the lane thread
is back in the model.
"""

import logging
import multiprocessing
import signal
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
ANSWER_TIMEOUT_S = 5.0  # presence takes milliseconds: a child silent this long is hung


def _serve(camera: CameraConfig, memory_name: str, shape: tuple[int, ...], link: Connection) -> None:
    # Ctrl-C and a service manager's stop reach the whole process group: the node stops this
    # child itself, after the frame in hand, instead of finding it gone mid-frame.
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, signal.SIG_IGN)
    memory = SharedMemory(memory_name)
    try:
        floor = np.ndarray(shape, np.uint8, memory.buf)
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
        self._floor = presence_detector(camera).floor  # only the floor rows are copied across
        shape = self._floor(np.empty((camera.height, camera.width, 3), np.uint8)).shape
        self._memory = SharedMemory(create=True, size=int(np.prod(shape)))
        self._slot = np.ndarray(shape, np.uint8, self._memory.buf)
        self._link, child_link = multiprocessing.Pipe()
        # spawn, not fork: the node has threads (the MQTT link's), which fork would copy mid-flight
        context = multiprocessing.get_context("spawn")
        self._process = context.Process(
            target=_serve, args=(camera, self._memory.name, shape, child_link), name="presence", daemon=True
        )
        try:
            self._process.start()
        except BaseException:
            del self._slot
            self._memory.close()
            self._memory.unlink()
            raise
        child_link.close()
        self._pending: Frame | None = None  # handed over by offer(), not yet sent to the child
        self._busy = False  # from offer() until its answer has been handed on
        self._closing = False
        self._changed = threading.Condition()
        self.dropped = 0
        self.error: BaseException | None = None
        self._courier = threading.Thread(target=self._carry, name="presence-link", daemon=True)
        self._courier.start()

    def offer(self, frame: Frame) -> None:
        """Hand a frame over and return at once: the courier thread copies it across while the
        lane path gets on with the next frame (the frame must not be written to afterwards)."""
        with self._changed:
            while self._block and self._busy and self.error is None:
                self._changed.wait()
            if self.error is None and not self._process.is_alive():  # died while idle: the courier cannot tell
                self.error = ChildProcessError(f"presence process exit code {self._process.exitcode}")
            if self.error is not None:
                raise RuntimeError("the presence process failed") from self.error
            if self._busy:
                self.dropped += 1
                return
            self._busy = True
            self._pending = frame
            self._changed.notify_all()

    def wait(self, timeout_s: float | None = None) -> None:
        """Until the child has answered for the frame in hand (or failed, or the timeout)."""
        with self._changed:
            self._changed.wait_for(lambda: not self._busy or self.error is not None, timeout_s)

    def close(self) -> None:
        """Let the child finish the frame in hand, then stop it; a child that does not is killed."""
        self.wait(ANSWER_TIMEOUT_S)
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        self._courier.join(ANSWER_TIMEOUT_S + 1)
        self._process.join(2)
        if self._process.is_alive():
            self._process.kill()
        self._link.close()
        del self._slot
        self._memory.close()
        self._memory.unlink()

    def _carry(self) -> None:
        """Frames to the child, answers back to on_people, one at a time."""
        while True:
            with self._changed:
                while self._pending is None and not self._closing:
                    self._changed.wait()
                frame, self._pending = self._pending, None
            try:
                if frame is None:
                    self._link.send(None)
                    return
                np.copyto(self._slot, self._floor(frame.image))
                self._link.send(frame.t_ms)
                if not self._link.poll(ANSWER_TIMEOUT_S):
                    raise TimeoutError(f"no answer in {ANSWER_TIMEOUT_S} s")
                t_ms, people = self._link.recv()
            except (EOFError, OSError) as gone:  # TimeoutError is an OSError
                self._fail(gone, f"the presence process ended unexpectedly (exit code {self._process.exitcode})")
                return
            try:
                self._on_people(t_ms, people)
            except BaseException as error:
                self._fail(error, "handling presence failed")
                return
            with self._changed:
                self._busy = False
                self._changed.notify_all()

    def _fail(self, error: BaseException, why: str) -> None:
        log.error("%s: %s", why, error)
        with self._changed:
            self.error = error
            self._changed.notify_all()

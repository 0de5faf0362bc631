"""Presence in its own process: the same answers as in line, frames dropped rather than
queued while it is busy, and a dead child reported instead of waited on."""

import os
import signal
import threading

import pytest

from edge.camera.pipeline import presence_detector
from edge.camera.presence import Person
from edge.camera.presence_process import PresenceProcess
from edge.camera.sources import Frame
from edge.runtime.config import CameraConfig
from hw.sim.camera_render import FrameSpec, Renderer, ShelfView
from hw.sim.camera_render import Person as Shopper

CAMERA = CameraConfig(shelf="shelf-01")
RENDERER = Renderer(ShelfView())
PRODUCTS = (3, 17, 42, 99)
FRAMES = [
    RENDERER.render(FrameSpec(PRODUCTS, tuple(Shopper(100 + 40 * n, 300 + 10 * n) for _ in range(n > 0)), seed=n))
    for n in range(12)
]


class Answers:
    def __init__(self) -> None:
        self.got: list[tuple[int, list[Person]]] = []
        self.arrived = threading.Event()

    def __call__(self, t_ms: int, people: list[Person]) -> None:
        self.got.append((t_ms, people))
        self.arrived.set()


def test_the_child_answers_as_the_detector_does_in_line() -> None:
    answers = Answers()
    presence = PresenceProcess(CAMERA, answers, block=True)
    try:
        for n, image in enumerate(FRAMES):
            presence.offer(Frame(n * 200, image))
        presence.wait()
    finally:
        presence.close()
    in_line = presence_detector(CAMERA)
    assert answers.got == [(n * 200, in_line.add(image)) for n, image in enumerate(FRAMES)]
    assert any(people for _, people in answers.got), "the shopper is seen"
    assert presence.dropped == 0


def test_frames_due_while_it_is_busy_are_dropped_not_queued() -> None:
    answers = Answers()
    presence = PresenceProcess(CAMERA, answers)
    try:
        for n, image in enumerate(FRAMES):  # far faster than it answers
            presence.offer(Frame(n, image))
        presence.wait()
    finally:
        presence.close()
    assert presence.dropped >= 1
    assert len(answers.got) + presence.dropped == len(FRAMES)
    assert answers.got[0][0] == 0


def answered_once(presence: PresenceProcess, answers: Answers) -> int:
    """Have the child answer one frame (so it is up and idle); its pid."""
    presence.offer(Frame(0, FRAMES[0]))
    assert answers.arrived.wait(20)
    pid = presence._process.pid
    assert pid is not None
    return pid


def test_a_dead_child_is_an_error_on_the_next_offer() -> None:
    answers = Answers()
    presence = PresenceProcess(CAMERA, answers)
    try:
        os.kill(answered_once(presence, answers), signal.SIGKILL)
        presence._process.join(10)
        with pytest.raises(RuntimeError, match="presence process failed"):
            presence.offer(Frame(200, FRAMES[1]))
    finally:
        presence.close()


def test_a_child_dying_with_a_frame_in_hand_is_an_error_too() -> None:
    answers = Answers()
    presence = PresenceProcess(CAMERA, answers)
    try:
        pid = answered_once(presence, answers)
        os.kill(pid, signal.SIGSTOP)  # stuck, then gone, mid-frame
        presence.offer(Frame(200, FRAMES[1]))
        os.kill(pid, signal.SIGKILL)
        presence.wait()
        assert isinstance(presence.error, (EOFError, OSError))
        with pytest.raises(RuntimeError, match="presence process failed"):
            presence.offer(Frame(400, FRAMES[2]))
    finally:
        presence.close()

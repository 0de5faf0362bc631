"""Where the console's thread meets the shelf app's loop. The loop owns the source, the
calibration and the detector; the console only reads the latest picture of the lanes,
waits for the raw readings it needs, and hands the loop work to do on its own thread
(a new calibration, a question to the shelf board)."""

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TypeVar

from edge.protocol.diag import DiagError, ErrorCode
from edge.shelf.sources import RawReading

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class LaneView:
    lane: int
    raw: int | None  # the last raw count, None if the last read was rejected
    weight_mg: int | None  # None while the lane has no calibration
    state: str  # uncalibrated | starting | settled | moving
    drift_mg: int


@dataclass
class _Collector:
    lanes: list[int]
    n: int
    readings: dict[int, list[int]]
    done: threading.Event


class ShelfDesk:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lanes: list[LaneView] = []
        self._collectors: list[_Collector] = []
        self._jobs: queue.Queue[tuple[Callable[[], object], Future[object]]] = queue.Queue()

    # The app's loop calls these, on its thread.

    def reading(self, reading: RawReading, lanes: list[LaneView]) -> None:
        with self._lock:
            self._lanes = lanes
            for collector in self._collectors:
                for lane in collector.lanes:
                    counts = reading.counts.get(lane)
                    if counts is not None and len(collector.readings[lane]) < collector.n:
                        collector.readings[lane].append(counts)
                if all(len(collector.readings[lane]) >= collector.n for lane in collector.lanes):
                    collector.done.set()

    def run_jobs(self) -> None:
        while True:
            try:
                job, future = self._jobs.get_nowait()
            except queue.Empty:
                return
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(job())
                except Exception as error:
                    future.set_exception(error)

    # The console calls these, on its thread.

    def lanes(self) -> list[LaneView]:
        with self._lock:
            return list(self._lanes)

    def collect(self, lanes: list[int], n: int, timeout_s: float) -> dict[int, list[int]]:
        """The next `n` accepted raw readings of each lane."""
        collector = _Collector(lanes, n, {lane: [] for lane in lanes}, threading.Event())
        with self._lock:
            self._collectors.append(collector)
        try:
            if not collector.done.wait(timeout_s):
                short = [lane for lane in lanes if len(collector.readings[lane]) < n]
                raise DiagError(ErrorCode.UNAVAILABLE, f"lanes {short} gave too few readings; `read` shows them")
        finally:
            with self._lock:
                self._collectors.remove(collector)
        return {lane: list(values[:n]) for lane, values in collector.readings.items()}

    def call(self, job: Callable[[], T], timeout_s: float) -> T:
        """Run `job` on the app's thread and return what it returns (or raise what it raises)."""
        future: Future[object] = Future()
        self._jobs.put((job, future))
        try:
            return future.result(timeout_s)  # type: ignore[return-value]
        except TimeoutError:
            if future.cancel():  # never started: it never will
                raise DiagError(ErrorCode.UNAVAILABLE, "the shelf app did not take the job; see `log`") from None
        return future.result()  # type: ignore[return-value]  # started late: it finishes, and is reported

"""The shelf node's app: samples in, calibrated lane weights through the detector, `weight`
events and low-rate `telemetry` out through the node runtime.

Samples are not smoothed (a median of three made trembling hands look stable and cost the
detector five points of precision); single wrong readings are the detector's to ignore.

While a technician is in service mode the lanes carry test weights, not shoppers' goods:
changes are counted (`weights_in_service`) but not sent, and when service mode ends every
lane finds its baseline afresh, so that nothing the technician did becomes an event.
A new calibration (the console's `tare` and `calibrate`, diag.py) is saved and takes
effect on this loop's thread, between two samples.
"""

import logging
import threading

from edge.protocol.configfile import ConfigError, resolve
from edge.protocol.messages import UNSTAMPED, Telemetry, Weight
from edge.runtime.config import ShelfConfig
from edge.runtime.node import Node
from edge.shelf.calibration import CalibrationStore, LaneCalibration
from edge.shelf.desk import LaneView, ShelfDesk
from edge.shelf.detector import DetectorConfig, ShelfDetector
from edge.shelf.diag import shelf_commands
from edge.shelf.sources import RawReading, SampleSource, open_source

log = logging.getLogger(__name__)


class ShelfApp:
    def __init__(self, node: Node, shelf: ShelfConfig, source: SampleSource, store: CalibrationStore) -> None:
        self.node = node
        self.shelf = shelf
        self.source = source
        self.desk = ShelfDesk()
        self._store = store
        self.calibration = {**source.factory_calibration(), **store.load()}
        self.pending_offsets: dict[int, int] = {}  # tared, not yet spanned: lanes never calibrated
        self.detector = ShelfDetector(
            sorted(self.calibration.keys() & set(shelf.lanes)),
            DetectorConfig(
                period_ms=1000 / shelf.rate_sps,
                noise_mg=shelf.noise_mg,
                min_delta_mg=shelf.min_delta_mg,
                drift_limit_mg=shelf.drift_limit_mg,
            ),
        )
        self._count_uncalibrated()
        node.diag.add(*shelf_commands(self))

    def _count_uncalibrated(self) -> None:
        uncalibrated = sorted(set(self.shelf.lanes) - set(self.calibration))
        if uncalibrated:
            log.warning("lanes %s are not calibrated; their samples are ignored until they are", uncalibrated)
        self.node.counters["lanes_uncalibrated"] = len(uncalibrated)

    def calibrate(self, lanes: dict[int, LaneCalibration], offsets: dict[int, int], done: str) -> None:
        """Take a technician's new calibration (`done`: tared or calibrated), and zeros of
        lanes not yet calibrated: saved first, so that what the console reports done survives
        a crash. Runs on the loop."""
        if lanes:
            self._store.save({**self._store.load(), **lanes})
            self.calibration.update(lanes)
        self.pending_offsets.update(offsets)
        for lane, calibration in sorted(lanes.items()):
            self.pending_offsets.pop(lane, None)
            log.info("lane %d %s: zero %d, %.1f counts/g", lane, done, calibration.offset, calibration.counts_per_g)
        for lane, offset in sorted(offsets.items()):
            log.info("lane %d tared: zero %d, not calibrated yet", lane, offset)
        self.detector.restart(sorted(lanes))
        self._count_uncalibrated()

    def run(self, stopping: threading.Event) -> None:
        next_telemetry = 0
        in_service = False
        while not stopping.is_set():
            reading = self.source.read()
            self.node.beat()
            self.desk.run_jobs()
            was_in_service, in_service = in_service, self.node.in_service()
            if was_in_service and not in_service:
                self.detector.restart(sorted(self.detector.lanes))
            weights = {}
            for lane, counts in reading.counts.items():
                if counts is None:
                    self.node.counters["samples_rejected"] += 1
                elif lane in self.detector.lanes:
                    weights[lane] = self.calibration[lane].weight_mg(counts)
            for change in self.detector.add(reading.t_ms, weights):
                if in_service:
                    self.node.counters["weights_in_service"] += 1
                    continue
                self.node.emit(
                    Weight(
                        **UNSTAMPED,
                        shelf=self.shelf.id,
                        lane=change.lane,
                        t0=change.t0,
                        t1=change.t1,
                        delta_mg=change.delta_mg,
                        before_mg=change.before_mg,
                        after_mg=change.after_mg,
                        noise_mg=change.noise_mg,
                    )
                )
            self.desk.reading(reading, self._views(reading, weights))
            if reading.t_ms >= next_telemetry and self.detector.telemetry():
                self.node.counters["lanes_drifted"] = len(self.detector.drifted())
                self.node.emit(Telemetry(**UNSTAMPED, shelf=self.shelf.id, lanes=self.detector.telemetry()))
                next_telemetry = reading.t_ms + self.shelf.telemetry_interval_s * 1000

    def _views(self, reading: RawReading, weights: dict[int, int]) -> list[LaneView]:
        views = []
        for lane in self.shelf.lanes:
            detector = self.detector.lanes.get(lane)
            if detector is None:
                state, drift = "uncalibrated", 0
            else:
                state = "starting" if detector.baseline is None else "settled" if detector.settled else "moving"
                drift = round(detector.drift_mg)
            views.append(LaneView(lane, reading.counts.get(lane), weights.get(lane), state, drift))
        return views


def run_shelf(node: Node, stopping: threading.Event) -> None:
    shelf = node.config.shelf
    if shelf is None:
        raise ConfigError("a shelf node needs a [shelf] table (id, lanes)")
    source = open_source(node.config, node.base)
    try:
        store = CalibrationStore(resolve(node.base, node.config.state_dir) / "calibration.toml")
        ShelfApp(node, shelf, source, store).run(stopping)
    finally:
        source.close()

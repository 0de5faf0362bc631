"""The shelf node's app: samples in, calibrated lane weights through the detector, `weight`
events and low-rate `telemetry` out through the node runtime.

Samples are not smoothed (a median of three made trembling hands look stable and cost the
detector five points of precision); single wrong readings are the detector's to ignore."""

import logging
import threading

from edge.protocol.configfile import ConfigError, resolve
from edge.protocol.messages import UNSTAMPED, Telemetry, Weight
from edge.runtime.node import Node
from edge.shelf.calibration import CalibrationStore
from edge.shelf.detector import DetectorConfig, ShelfDetector
from edge.shelf.sources import open_source

log = logging.getLogger(__name__)


def run_shelf(node: Node, stopping: threading.Event) -> None:
    shelf = node.config.shelf
    if shelf is None:
        raise ConfigError("a shelf node needs a [shelf] table (id, lanes)")
    source = open_source(node.config, node.base)
    store = CalibrationStore(resolve(node.base, node.config.state_dir) / "calibration.toml")
    calibration = {**source.factory_calibration(), **store.load()}
    uncalibrated = sorted(set(shelf.lanes) - set(calibration))
    if uncalibrated:
        log.warning("lanes %s are not calibrated; their samples are ignored until they are", uncalibrated)
    node.counters["lanes_uncalibrated"] = len(uncalibrated)
    detector = ShelfDetector(
        sorted(calibration.keys() & set(shelf.lanes)),
        DetectorConfig(
            period_ms=1000 / shelf.rate_sps,
            noise_mg=shelf.noise_mg,
            min_delta_mg=shelf.min_delta_mg,
            drift_limit_mg=shelf.drift_limit_mg,
        ),
    )
    next_telemetry = 0
    try:
        while not stopping.is_set():
            reading = source.read()
            node.beat()
            weights = {}
            for lane, counts in reading.counts.items():
                if counts is None:
                    node.counters["samples_rejected"] += 1
                elif lane in detector.lanes:
                    weights[lane] = calibration[lane].weight_mg(counts)
            for change in detector.add(reading.t_ms, weights):
                node.emit(
                    Weight(
                        **UNSTAMPED,
                        shelf=shelf.id,
                        lane=change.lane,
                        t0=change.t0,
                        t1=change.t1,
                        delta_mg=change.delta_mg,
                        before_mg=change.before_mg,
                        after_mg=change.after_mg,
                        noise_mg=change.noise_mg,
                    )
                )
            if reading.t_ms >= next_telemetry and detector.telemetry():
                node.counters["lanes_drifted"] = len(detector.drifted())
                node.emit(Telemetry(**UNSTAMPED, shelf=shelf.id, lanes=detector.telemetry()))
                next_telemetry = reading.t_ms + shelf.telemetry_interval_s * 1000
    finally:
        source.close()

"""The `sim` sample source of a shelf node: simulated lanes with shoppers at them
(hw/sim/shelf_activity.py) seen through simulated load cells, paced in real time.

Each simulated cell has a known zero and scale, which it offers as factory calibration.
"""

import random
import time
from collections.abc import Callable, Iterator

from edge.protocol.clock import wall_ms
from edge.shelf.calibration import LaneCalibration
from edge.shelf.sources import RawReading
from hw.sim.shelf_activity import ActivityConfig, Lane

HOURS = 24 * 3600


class SimShelfSource:
    def __init__(
        self,
        lanes: list[int],
        rate_sps: int,
        seed: int,
        noise_mg: int = 1_000,
        clock: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = wall_ms,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.lanes = {
            lane: Lane(lane, ActivityConfig(noise_mg=noise_mg), random.Random(seed * 1009 + lane)) for lane in lanes
        }
        self._calibration = {lane: LaneCalibration(offset=80_000 + 997 * lane, counts_per_g=420.0) for lane in lanes}
        self._streams: dict[int, Iterator[tuple[int, int]]] = {
            lane: model.samples(HOURS, rate_sps) for lane, model in self.lanes.items()
        }
        self._period = 1.0 / rate_sps
        self._clock, self._sleep = clock, sleep
        self._started = clock()
        self._wall0 = wall_ms()
        self._n = 0

    def read(self) -> RawReading:
        due = self._started + self._n * self._period
        delay = due - self._clock()
        if delay > 0:
            self._sleep(delay)
        self._n += 1
        counts: dict[int, int | None] = {}
        t_ms = 0
        for lane, stream in self._streams.items():
            t_ms, weight_mg = next(stream)
            cal = self._calibration[lane]
            counts[lane] = round(cal.offset + weight_mg * cal.counts_per_g / 1000)
        return RawReading(self._wall0 + t_ms, counts)

    def factory_calibration(self) -> dict[int, LaneCalibration]:
        return dict(self._calibration)

    def close(self) -> None:
        return None

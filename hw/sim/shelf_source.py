"""The `sim` sample source of a shelf node: simulated lanes seen through simulated load
cells, paced in real time. The lanes' loads are the store world's (a drive file, see
hw/sim/world/drives.py) when the node is given one, and otherwise random shoppers of its own
(hw/sim/shelf_activity.py).

Each simulated cell has a known zero and scale, which it offers as factory calibration.
"""

import random
import time
from collections.abc import Callable, Iterator

from edge.protocol.clock import wall_ms
from edge.protocol.configfile import ConfigError
from edge.shelf.calibration import LaneCalibration
from edge.shelf.sources import RawReading
from hw.sim.shelf_activity import ActivityConfig, Episode, Lane, samples
from hw.sim.world.drives import LaneDrive, ShelfDrive

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
        drive: ShelfDrive | None = None,
    ) -> None:
        self._calibration = {lane: LaneCalibration(offset=80_000 + 997 * lane, counts_per_g=420.0) for lane in lanes}
        self._period = 1.0 / rate_sps
        self._clock, self._sleep = clock, sleep
        self._started = clock()
        self._wall0 = wall_ms()
        self._n = 0
        config = ActivityConfig(noise_mg=noise_mg)
        self._streams: dict[int, Iterator[tuple[int, int]]] = {}
        if drive is None:
            for lane in lanes:
                self._streams[lane] = Lane(lane, config, random.Random(seed * 1009 + lane)).samples(HOURS, rate_sps)
            return
        driven = {lane.lane: lane for lane in drive.lanes}
        missing = sorted(set(lanes) - set(driven))
        if missing:
            raise ConfigError(f"the world drive has no lanes {missing} of this shelf")
        for lane in lanes:
            rng = random.Random(seed * 1009 + lane)
            level, episodes = _episodes(driven[lane], (drive.wall0_ms - self._wall0) / 1000, rng)
            self._streams[lane] = samples(episodes, level, config, rng, HOURS, rate_sps)

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


def _episodes(drive: LaneDrive, offset_s: float, rng: random.Random) -> tuple[float, list[Episode]]:
    """A driven lane's level when the source starts, and its changes from then on, on the
    source's own time (seconds from its start): a hand in the lane trembles while the load
    changes, and the items leave or arrive at some moment in between."""
    level = float(drive.start_mg)
    episodes: list[Episode] = []
    for change in drive.changes:
        start, end = offset_s + change.t0 / 1000, offset_s + change.t1 / 1000
        if end <= 0:
            level += change.delta_mg
            continue
        before = episodes[-1].after if episodes else level
        start = max(start, episodes[-1].end if episodes else start)
        change_at = rng.uniform(start + 0.3 * (end - start), start + 0.7 * (end - start))
        episodes.append(Episode(start, end, before, before + change.delta_mg, change_at, change.tremor_mg, False))
    return level, episodes

"""Simulated shelf lanes with shoppers at them, and the ground truth of every change.

Each lane holds items of one unit weight on a tray. Its timeline alternates idle gaps with
episodes:
- picks and put-backs of one to three items, a trembling hand in the lane meanwhile;
- slow picks, eased out over seconds with no hand noise;
- hands resting on the lane for several seconds before taking something;
- bumps from the neighbouring lane, which change nothing.
Load changes are followed by creep, and every sample carries Gaussian sensor noise. Lanes
are independent, so with many lanes, changes overlap in time.
"""

import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TrueChange:
    lane: int
    t_start_ms: float
    t_settle_ms: float
    delta_mg: int


@dataclass(frozen=True, slots=True)
class Episode:
    start: float  # s
    end: float
    before: float  # mg
    after: float
    change_at: float  # when the items leave or arrive, within the episode
    tremor: float  # mg, uniform half-width of the hand's force
    slow: bool


@dataclass(frozen=True, slots=True)
class ActivityConfig:
    noise_mg: float = 1_000
    unit_min_mg: int = 20_000
    unit_max_mg: int = 2_000_000
    gap_s: tuple[float, float] = (2.0, 14.0)
    creep_fraction: float = 0.0005  # of a load change, reached over about 30 s
    quiet: bool = False  # no shoppers at all: only noise and drift
    drift_mg_per_h: float = 0.0


class Lane:
    def __init__(self, lane: int, config: ActivityConfig, rng: random.Random) -> None:
        self.lane = lane
        self._config = config
        self._rng = rng
        self.unit_mg = round(rng.uniform(config.unit_min_mg, config.unit_max_mg))
        self._count = rng.randint(4, 12)
        self._tray = rng.uniform(200_000, 800_000)
        self.truth: list[TrueChange] = []

    def _level(self) -> float:
        return self._tray + self._count * self.unit_mg

    def episodes(self, duration_s: float) -> Iterator[Episode]:
        rng, t = self._rng, 0.0
        while True:
            t += rng.uniform(*self._config.gap_s)
            if t >= duration_s - 15:
                return
            roll = rng.random()
            before = self._level()
            if roll < 0.08:  # a bump from the next lane
                end = t + rng.uniform(0.3, 1.0)
                yield Episode(t, end, before, before, end, rng.uniform(15_000, 40_000), False)
                t = end
                continue
            items = 1 if rng.random() < 0.8 else rng.randint(2, 3)
            put_back = self._count < 3 or (self._count < 15 and rng.random() < 0.3)
            items = items if put_back else min(items, self._count)
            self._count += items if put_back else -items
            after = self._level()
            if roll < 0.18:  # slow pick or put, no hand noise
                end = t + rng.uniform(2.0, 4.0)
                yield Episode(t, end, before, after, end, 0.0, True)
            else:
                span = rng.uniform(4.0, 8.0) if roll < 0.28 else rng.uniform(0.8, 3.0)  # a resting hand
                end = t + span
                change_at = rng.uniform(t + 0.2, end - 0.1)
                yield Episode(t, end, before, after, change_at, rng.uniform(15_000, 80_000), False)
            self.truth.append(TrueChange(self.lane, t * 1000, end * 1000, round(after - before)))
            t = end

    def samples(self, duration_s: float, rate_sps: int) -> Iterator[tuple[int, int]]:
        """(t_ms, weight_mg) at `rate_sps` for `duration_s`."""
        episodes = [] if self._config.quiet else list(self.episodes(duration_s))
        level = episodes[0].before if episodes else self._level()
        return samples(episodes, level, self._config, self._rng, duration_s, rate_sps)


def samples(
    episodes: Iterable[Episode],
    level: float,
    config: ActivityConfig,
    rng: random.Random,
    duration_s: float,
    rate_sps: int,
) -> Iterator[tuple[int, int]]:
    """(t_ms, weight_mg) at `rate_sps` for `duration_s` of a lane that starts at `level` and
    goes through `episodes` (in time order, none overlapping)."""
    pending = iter(episodes)
    current = next(pending, None)
    creep_target, creep = 0.0, 0.0
    period = 1.0 / rate_sps
    step_creep = 1 - math.exp(-period / 30.0)
    for n in range(int(duration_s * rate_sps)):
        t = n * period
        while current is not None and t >= current.end:
            creep_target += config.creep_fraction * (current.after - current.before)
            level = current.after
            current = next(pending, None)
        true = level
        if current is not None and t >= current.start:
            if current.slow:
                share = (t - current.start) / (current.end - current.start)
                true = current.before + (current.after - current.before) * share
            else:
                true = current.after if t >= current.change_at else current.before
                true += rng.uniform(-current.tremor, current.tremor)
        creep += (creep_target - creep) * step_creep
        drift = config.drift_mg_per_h * t / 3600
        yield round(t * 1000), round(true + creep + drift + rng.gauss(0, config.noise_mg))

"""Weight-event detection for shelf lanes. Pure: samples in, events out; time comes from the
samples.

Per lane, a baseline is held while the lane is stable. An unsettled span starts when two
samples in a row deviate from that baseline by more than the trigger (one spike is not
enough). It ends when a whole stability window stays within the stability band. If the
new level differs from the baseline by at least the minimum delta, that is an event: a pick
(negative) or a put-back (positive), with the span's start and end. A smaller difference (a
bump, vibration from the next lane) is absorbed.

The deviation is measured against the held baseline, not a sliding window, so a slow pick
still adds up to an event. A light item eased out slowly can move the lane by less than the
band within one window, so a window in the middle of the slide fits the band; the window
before it tells the slide from a still lane (see `sliding`), so the span does not settle
half-way (an event split in two, or slices below the minimum lost to drift). A hand
resting on the shelf trembles far beyond sensor noise, so it keeps the lane unsettled until
it lifts. Zero tracking moves the baseline only while the lane is stable, at a capped rate:
it follows drift and creep but never absorbs a step.

Everything the baseline moved without an event (tracking and absorbed small changes) adds
up to the lane's drift. Past the drift limit the lane is reported as drifted: a cell whose
zero has wandered that far needs a technician's tare, since its absolute weight in
telemetry is no longer to be trusted (its deltas still are).
"""

import math
import statistics
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    period_ms: float = 100  # 10 SPS; 12.5 at 80 SPS
    stable_ms: int = 700  # the stability window: long enough that a trembling hand is never "stable"
    noise_mg: int = 1_000  # expected sensor noise (1 sigma), from calibration
    band_sigmas: float = 6.0  # a stable window's max - min stays within this many sigmas
    slide_sigmas: float = 3.0  # a stable window's mean stays this close to a calm window's before it
    trigger_sigmas: float = 5.0  # a deviation from the baseline this large starts a span
    min_delta_mg: int = 8_000  # smaller changes are absorbed, not reported
    track_mg_per_s: int = 200  # zero tracking: how fast the baseline may follow drift
    drift_limit_mg: int = 50_000  # drift without events beyond this marks the lane drifted

    @property
    def window(self) -> int:
        return max(3, int(self.stable_ms // self.period_ms))

    @property
    def band_mg(self) -> float:
        return self.band_sigmas * self.noise_mg

    @property
    def trigger_mg(self) -> float:
        return self.trigger_sigmas * self.noise_mg

    @property
    def slide_mg(self) -> float:
        """How far apart two windows' means may lie on a still lane: the sigma of their
        difference is the noise times sqrt(2 / window)."""
        return self.slide_sigmas * self.noise_mg * math.sqrt(2 / self.window)


@dataclass(frozen=True, slots=True)
class WeightChange:
    lane: int
    t0: int
    t1: int
    delta_mg: int
    before_mg: int
    after_mg: int
    noise_mg: int


def sliding(previous: list[int], current: list[int], config: DetectorConfig) -> bool:
    """Whether a window that fits the band is still moving. A load eased on or off with no
    hand in the lane can move by less than the band within one window, so a window in the
    middle of it passes for stable. The window before tells: at a pace slow enough for one
    window to fit the band, the window before spans less than twice the band. If it was that
    calm (no hand or step in it), a lane that has settled sits where it sat then."""
    if len(previous) < len(current) or max(previous) - min(previous) > 2 * config.band_mg:
        return False
    return abs(statistics.fmean(current) - statistics.fmean(previous)) > config.slide_mg


class LaneDetector:
    def __init__(self, lane: int, config: DetectorConfig) -> None:
        self.lane = lane
        self._config = config
        self._recent: deque[tuple[int, int]] = deque(maxlen=config.window)
        self._previous: deque[int] = deque(maxlen=config.window)  # the window before _recent
        self.baseline: float | None = None
        self._baseline_t = 0
        self._span_start: int | None = None
        self._pending_start: int | None = None
        self.noise_mg = float(config.noise_mg)
        self.drift_mg = 0.0

    @property
    def settled(self) -> bool:
        return self.baseline is not None and self._span_start is None

    def add(self, t_ms: int, weight_mg: int) -> WeightChange | None:
        """Take one sample; return a change when this sample completes one."""
        if len(self._recent) == self._recent.maxlen:
            self._previous.append(self._recent[0][1])
        self._recent.append((t_ms, weight_mg))
        stable = self._window_stable()
        if self.baseline is None:
            if stable:
                self._set_baseline(t_ms)
            return None
        if self._span_start is None:
            self._while_settled(t_ms, weight_mg, stable)
            return None
        if not stable:
            return None
        return self._settle(t_ms)

    def _while_settled(self, t_ms: int, weight_mg: int, stable: bool) -> None:
        assert self.baseline is not None
        if abs(weight_mg - self.baseline) > self._config.trigger_mg:
            if self._pending_start is None:
                self._pending_start = t_ms
            else:
                self._span_start, self._pending_start = self._pending_start, None
            return
        self._pending_start = None
        if stable:
            self._track(t_ms)

    def _settle(self, t_ms: int) -> WeightChange | None:
        assert self.baseline is not None and self._span_start is not None
        before = self.baseline
        after = self._window_mean()
        t0, t1 = self._span_start, self._recent[0][0]
        self._span_start = None
        self._set_baseline(t_ms)
        delta = after - before
        if abs(delta) < self._config.min_delta_mg:
            self.drift_mg += delta
            return None
        return WeightChange(self.lane, t0, t1, round(delta), round(before), round(after), round(self.noise_mg))

    def _window_stable(self) -> bool:
        if len(self._recent) < self._recent.maxlen:  # type: ignore[operator]
            return False
        weights = [w for _, w in self._recent]
        if max(weights) - min(weights) > self._config.band_mg:
            return False
        return not sliding(list(self._previous), weights, self._config)

    def _window_mean(self) -> float:
        return statistics.fmean(w for _, w in self._recent)

    def _set_baseline(self, t_ms: int) -> None:
        self.baseline = self._window_mean()
        self._baseline_t = t_ms
        spread = statistics.pstdev(w for _, w in self._recent)
        # The noise estimate follows what stable windows show, slowly, and never below a
        # quarter of the configured figure (a quantised, very quiet window is not the truth).
        self.noise_mg = max(self._config.noise_mg / 4, 0.9 * self.noise_mg + 0.1 * spread)

    def _track(self, t_ms: int) -> None:
        """Zero tracking: follow the stable window's mean, no faster than the cap allows."""
        assert self.baseline is not None
        allowed = self._config.track_mg_per_s * (t_ms - self._baseline_t) / 1000
        step = max(-allowed, min(allowed, self._window_mean() - self.baseline))
        self.baseline += step
        self.drift_mg += step
        self._baseline_t = t_ms


class ShelfDetector:
    """One detector per lane; lanes are independent, so several may move at once."""

    def __init__(self, lanes: list[int], config: DetectorConfig) -> None:
        self._config = config
        self.lanes = {lane: LaneDetector(lane, config) for lane in lanes}

    def restart(self, lanes: list[int]) -> None:
        """Forget what these lanes held (new or changed calibration, a technician's test
        weights): each finds its baseline afresh, and its step to it is no event."""
        for lane in lanes:
            self.lanes[lane] = LaneDetector(lane, self._config)

    def add(self, t_ms: int, weights_mg: dict[int, int]) -> list[WeightChange]:
        changes = []
        for lane, weight in weights_mg.items():
            change = self.lanes[lane].add(t_ms, weight)
            if change is not None:
                changes.append(change)
        return changes

    def drifted(self) -> list[int]:
        """Lanes whose baseline moved past the drift limit without an event."""
        return [lane for lane, d in sorted(self.lanes.items()) if abs(d.drift_mg) > self._config.drift_limit_mg]

    def telemetry(self) -> list[tuple[int, int]]:
        """[lane, weight_mg] of every settled lane: the low-rate picture of the shelf."""
        return [
            (lane, round(detector.baseline))
            for lane, detector in sorted(self.lanes.items())
            if detector.settled and detector.baseline is not None
        ]

"""People on the floor from the cameras' `presence` frames: a multi-target tracker. Pure.

Frames come from several cameras whose views overlap, in time order (the engine reorders
them). Each frame's detections are matched to the tracks predicted at the frame's time
(constant velocity), nearest pairs first within a gate; so two shoppers walking past each
other keep their tracks as long as their paths do not meet head-on in one frame. A
detection nobody claims starts a tentative track, which a few more sightings confirm, so a
single false detection never becomes a person.

A track bound to a shopper (at the gate) is never dropped while the shopper is inside:
when the cameras lose it, it coasts where it was last seen, and the first new track that
appears within walking distance of it is taken to be it again. Each track keeps its recent
path, so events that arrive late are still placed by where people were at their time.
"""

import math
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Final

Point = tuple[float, float]

HISTORY_MS: Final = 180_000  # how far back a track's path is kept for late events
ADOPT_AFTER_MS: Final = 800  # a bound track unseen this long looks for itself among new tracks


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    gate_mm: float = 700.0  # farthest a detection may lie from a track's predicted position
    confirm_hits: int = 3  # sightings that make a tentative track a person
    tentative_ms: int = 1_500  # a tentative track not confirmed by then is dropped
    lost_ms: int = 3_000  # an unbound track unseen this long is dropped
    walk_mm_per_s: float = 2_000.0  # fastest a shopper walks, to relink a lost bound track
    relink_slack_mm: float = 900.0
    velocity_gain: float = 0.35

    def walkable(self, distance_mm: float, gap_ms: int) -> bool:
        """Whether a shopper lost for gap_ms may have got distance_mm away meanwhile."""
        return distance_mm <= self.relink_slack_mm + self.walk_mm_per_s * gap_ms / 1000


@dataclass(slots=True)
class Track:
    id: int
    t_ms: int
    x: float
    y: float
    vx: float = 0.0  # mm per ms
    vy: float = 0.0
    hits: int = 1
    born_ms: int = 0
    bound: bool = False  # belongs to a shopper inside the store
    times: list[int] = field(default_factory=list)
    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)

    @classmethod
    def start(cls, track_id: int, t_ms: int, x: float, y: float) -> "Track":
        track = cls(track_id, t_ms, x, y, born_ms=t_ms)
        track._record(t_ms)
        return track

    def predict(self, t_ms: int) -> Point:
        dt = min(max(t_ms - self.t_ms, 0), 1_000)  # beyond a second, velocity says little
        return self.x + self.vx * dt, self.y + self.vy * dt

    def at(self, t_ms: int) -> Point:
        """Where the track was at t_ms: interpolated along its path, or its ends outside it."""
        times = self.times
        if not times or t_ms >= times[-1]:
            return self.x, self.y
        i = bisect_left(times, t_ms)
        if i == 0:
            return self.xs[0], self.ys[0]
        t0, t1 = times[i - 1], times[i]
        share = (t_ms - t0) / (t1 - t0) if t1 > t0 else 1.0
        return self.xs[i - 1] + (self.xs[i] - self.xs[i - 1]) * share, self.ys[i - 1] + (
            self.ys[i] - self.ys[i - 1]
        ) * share

    def _record(self, t_ms: int) -> None:
        if self.times and t_ms < self.times[-1]:
            return  # a frame older than the path's end moves the track but is not history
        self.times.append(t_ms)
        self.xs.append(self.x)
        self.ys.append(self.y)
        if len(self.times) > 64 and self.times[0] < t_ms - HISTORY_MS:
            keep = bisect_left(self.times, t_ms - HISTORY_MS)
            del self.times[:keep], self.xs[:keep], self.ys[:keep]

    def update(self, t_ms: int, x: float, y: float, gain: float) -> None:
        dt = t_ms - self.t_ms
        if dt > 50:
            vx, vy = (x - self.x) / dt, (y - self.y) / dt
            self.vx += gain * (vx - self.vx)
            self.vy += gain * (vy - self.vy)
        if dt >= 0:
            self.t_ms = t_ms
        self.x, self.y = x, y
        self.hits += 1
        self._record(t_ms)

    def absorb(self, found: "Track") -> None:
        """Take over `found`'s path after this one's end, and its present state."""
        for t, x, y in zip(found.times, found.xs, found.ys, strict=True):
            if not self.times or t > self.times[-1]:
                self.times.append(t)
                self.xs.append(x)
                self.ys.append(y)
        self.t_ms, self.x, self.y, self.vx, self.vy = found.t_ms, found.x, found.y, found.vx, found.vy
        self.hits += found.hits


@dataclass
class Tracker:
    config: TrackerConfig = field(default_factory=TrackerConfig)
    tracks: dict[int, Track] = field(default_factory=dict)
    _next_id: int = 1

    def frame(self, t_ms: int, people: list[tuple[int, int, int]]) -> None:
        """One camera frame's detections (x_mm, y_mm, conf_pm) at t_ms."""
        config = self.config
        self._prune(t_ms)
        if not people:
            return
        gate2 = config.gate_mm * config.gate_mm
        pairs: list[tuple[float, int, int]] = []
        predicted = [(track, *track.predict(t_ms)) for track in self.tracks.values()]
        for d, (px, py, _) in enumerate(people):
            for track, tx, ty in predicted:
                dist2 = (px - tx) ** 2 + (py - ty) ** 2
                if dist2 <= gate2:
                    pairs.append((dist2, d, track.id))
        pairs.sort()
        taken_d: set[int] = set()
        taken_t: set[int] = set()
        for _, d, track_id in pairs:
            if d in taken_d or track_id in taken_t:
                continue
            taken_d.add(d)
            taken_t.add(track_id)
            px, py, _ = people[d]
            self.tracks[track_id].update(t_ms, px, py, config.velocity_gain)
        for d, (px, py, _) in enumerate(people):
            if d not in taken_d:
                self._start(t_ms, px, py)
        self._adopt(t_ms)

    def _adopt(self, t_ms: int) -> None:
        """A bound track lost for a while takes over an unbound track that started after it
        was last seen, within walking distance: the same shopper, found again (the cameras
        may have followed someone else with the bound track for a moment before)."""
        config = self.config
        for lost in self.tracks.values():
            if not lost.bound or t_ms - lost.t_ms < ADOPT_AFTER_MS:
                continue
            best: Track | None = None
            best_d = math.inf
            for other in self.tracks.values():
                if other.bound or other.born_ms < lost.t_ms - 1_000 or other.hits < config.confirm_hits:
                    continue
                gap = max(other.born_ms - lost.t_ms, 0)
                d = math.hypot(other.xs[0] - lost.x, other.ys[0] - lost.y)  # where it was first seen
                if config.walkable(d, gap) and d < best_d:
                    best, best_d = other, d
            if best is not None:
                lost.absorb(best)
                del self.tracks[best.id]
                return  # the dict changed; the next frame adopts the next one

    def bind_near(self, t_ms: int, x: float, y: float, within_mm: float) -> Track:
        """Bind the unbound track nearest (x, y) at t_ms to a shopper; when none is near, a
        new bound track placed there, for the cameras to find."""
        best: Track | None = None
        best_d = within_mm
        for track in self.tracks.values():
            if track.bound:
                continue
            tx, ty = track.at(t_ms) if track.times and track.times[0] <= t_ms else (track.x, track.y)
            d = math.hypot(tx - x, ty - y)
            if d < best_d:
                best, best_d = track, d
        if best is None:
            best = self._new(t_ms, x, y)
            best.hits = self.config.confirm_hits
        best.bound = True
        return best

    def release(self, track_id: int) -> None:
        """The shopper left the store: their track ends, so that nobody coming in takes it."""
        self.tracks.pop(track_id, None)

    def _start(self, t_ms: int, x: float, y: float) -> Track:
        relinked = self._relink(t_ms, x, y)
        if relinked is not None:
            relinked.update(t_ms, x, y, 0.0)
            relinked.vx = relinked.vy = 0.0
            return relinked
        return self._new(t_ms, x, y)

    def _new(self, t_ms: int, x: float, y: float) -> Track:
        track = Track.start(self._next_id, t_ms, x, y)
        self.tracks[track.id] = track
        self._next_id += 1
        return track

    def _relink(self, t_ms: int, x: float, y: float) -> Track | None:
        """A bound track the cameras lost, within walking distance of (x, y)."""
        config = self.config
        best: Track | None = None
        best_d = math.inf
        for track in self.tracks.values():
            if not track.bound:
                continue
            gap = t_ms - track.t_ms
            if gap < 400:
                continue  # seen just now: this detection is someone else
            d = math.hypot(track.x - x, track.y - y)
            if config.walkable(d, gap) and d < best_d:
                best, best_d = track, d
        return best

    def _prune(self, t_ms: int) -> None:
        config = self.config
        stale = [
            track.id
            for track in self.tracks.values()
            if not track.bound
            and (
                (track.hits < config.confirm_hits and t_ms - track.born_ms > config.tentative_ms)
                or t_ms - track.t_ms > config.lost_ms
            )
        ]
        for track_id in stale:
            del self.tracks[track_id]

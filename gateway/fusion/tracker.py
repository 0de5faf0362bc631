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

from gateway.layout import Rect

Point = tuple[float, float]

HISTORY_MS: Final = 180_000  # how far back a track's path is kept for late events
ADOPT_AFTER_MS: Final = 800  # a bound track unseen this long looks for itself among new tracks
LOST_AFTER_MS: Final = 400  # unseen this long, a bound track competes for new tracks as their past
# Bounds on what one camera can make the tracker hold (DESIGN section 5): a frame's
# detections are matched against every track, so a device sending frames of 256 people
# (as the schema allows) would make each frame cost thousands of times a store's. No camera
# sees more than a few dozen shoppers; a shopper's own bound track is always made.
MAX_DETECTIONS: Final = 64  # per frame; the rest of a frame is left out
MAX_TRACKS: Final = 256  # no new tentative track beyond this many tracks


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

    def toward(self, t_ms: int, x: float, y: float) -> Point:
        """The point nearest (x, y) on the way its last motion was taking it since it was
        last seen: where a shopper the cameras lost while walking to (x, y) would be."""
        dt = max(t_ms - self.t_ms, 0)
        ex, ey = self.vx * dt, self.vy * dt
        length2 = ex * ex + ey * ey
        if length2 == 0:
            return self.x, self.y
        share = min(1.0, max(0.0, ((x - self.x) * ex + (y - self.y) * ey) / length2))
        return self.x + ex * share, self.y + ey * share

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
    outside: tuple[Rect, ...] = ()  # beyond the gates: no shopper inside is ever seen there
    tracks: dict[int, Track] = field(default_factory=dict)
    _next_id: int = 1

    def frame(self, t_ms: int, people: list[tuple[int, int, int]]) -> int:
        """One camera frame's detections (x_mm, y_mm, conf_pm) at t_ms; how many of them
        were left out at the bounds."""
        config = self.config
        self._prune(t_ms)
        if not people:
            return 0
        dropped = max(0, len(people) - MAX_DETECTIONS)
        people = people[:MAX_DETECTIONS]
        gate2 = config.gate_mm * config.gate_mm
        taken_d: set[int] = set()
        out = {d for d, (px, py, _) in enumerate(people) if _within(self.outside, px, py)}
        for tier in self._tiers(t_ms):
            pairs: list[tuple[float, int, int]] = []
            for track in tier:
                tx, ty = track.predict(t_ms)
                for d, (px, py, _) in enumerate(people):
                    if d in taken_d or (track.bound and d in out):
                        continue  # someone outside is not a shopper inside, whoever is nearest
                    dist2 = (px - tx) ** 2 + (py - ty) ** 2
                    if dist2 <= gate2:
                        pairs.append((dist2, d, track.id))
            pairs.sort()
            taken_t: set[int] = set()
            for _, d, track_id in pairs:
                if d in taken_d or track_id in taken_t:
                    continue
                taken_d.add(d)
                taken_t.add(track_id)
                px, py, _ = people[d]
                self.tracks[track_id].update(t_ms, px, py, config.velocity_gain)
        for d, (px, py, _) in enumerate(people):
            if d in taken_d:
                continue
            if len(self.tracks) >= MAX_TRACKS:
                dropped += 1
            else:
                self._new(t_ms, px, py)
        self._adopt(t_ms)
        return dropped

    def _tiers(self, t_ms: int) -> list[list[Track]]:
        """Tracks in the order they choose detections: shoppers followed until just now first,
        then other people and shoppers the cameras have lost, then tentative tracks. A false
        detection's tentative track next to a shopper's path must not take their sightings."""
        config = self.config
        tiers: list[list[Track]] = [[], [], []]
        for track in self.tracks.values():
            if track.bound and t_ms - track.t_ms < 1_000:
                tiers[0].append(track)
            elif track.bound or track.hits >= config.confirm_hits:
                tiers[1].append(track)
            else:
                tiers[2].append(track)
        return tiers

    def _adopt(self, t_ms: int) -> None:
        """Bound tracks lost for a while take over unbound tracks that started after they
        were last seen, within walking distance: the same shoppers, found again. Pairs are
        taken nearest first over all lost tracks at once, so that when the cameras lose two
        shoppers together (a frame drop) each is found where they were, not where whoever
        happened to be confirmed first is."""
        config = self.config
        lost = [track for track in self.tracks.values() if track.bound and t_ms - track.t_ms >= LOST_AFTER_MS]
        if not lost:
            return
        found = [
            track
            for track in self.tracks.values()
            if not track.bound
            and track.hits >= config.confirm_hits
            and not _within(self.outside, track.xs[0], track.ys[0])  # someone coming in, for their own passage
            and not _within(self.outside, track.x, track.y)
        ]
        pairs: list[tuple[float, int, int]] = []
        for old in lost:
            for new in found:
                if new.born_ms < old.t_ms - 1_000:
                    continue
                d = math.hypot(new.xs[0] - old.x, new.ys[0] - old.y)  # where it was first seen
                if config.walkable(d, max(new.born_ms - old.t_ms, 0)):
                    pairs.append((d, old.id, new.id))
        pairs.sort()
        taken: set[int] = set()
        for _, old_id, new_id in pairs:
            if old_id in taken or new_id in taken:
                continue
            taken.update((old_id, new_id))
            old = self.tracks[old_id]
            if t_ms - old.t_ms >= ADOPT_AFTER_MS:
                old.absorb(self.tracks.pop(new_id))

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

    def _new(self, t_ms: int, x: float, y: float) -> Track:
        track = Track.start(self._next_id, t_ms, x, y)
        self.tracks[track.id] = track
        self._next_id += 1
        return track

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


def _within(rects: tuple[Rect, ...], x: float, y: float) -> bool:
    return any(x0 <= x < x1 and y0 <= y < y1 for x0, y0, x1, y1 in rects)

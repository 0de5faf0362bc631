"""Lane interactions from the hand-in-lane model's per-frame scores. Pure: scores in, reaches
out; time comes from the frames, which may arrive at irregular intervals.

Per lane, P(hand in) = P(hand) + P(hand holding an item) goes through a median over the last
few frames, so a single misclassified frame never opens a span, then through hysteresis, so
a hand that half leaves the region of interest does not split its span in two. A lane is
taken as empty before its first frame, and in any frame that lacks it. The median answers
half its window late, so a span's t0 and t1 are the times of the frames that much earlier:
the first frame the hand was in, and the first it was out.

A span shorter than the minimum is flicker and is dropped before any grouping, so it can
neither add a lane to a reach nor join two shoppers' reaches into one. The remaining spans
are grouped: spans on the same or neighbouring lanes that overlap in time, or follow each
other within the merge gap, are one reach (one hand sweeping across lanes, or going back in).
A group is only reported once the merge gap has passed with none of its lanes in, because
until then a lane coming back would still extend it. What the hand held is judged where it
left last, from its last few frames in that lane: that is what it carried away.
"""

import math
import statistics
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Holding = Literal["item", "none", "unknown"]
HOLDING_FRAMES = 3  # in-frames before leaving that decide what the hand held
ITEM_SHARE = 0.6  # mean P(item | hand in) at or above this: "item"
NO_ITEM_SHARE = 0.4  # at or below this: "none"; between the two: "unknown"


@dataclass(frozen=True, slots=True)
class InteractionConfig:
    enter: float = 0.6  # a lane becomes "hand in" when its smoothed P(hand in) reaches this
    leave: float = 0.4  # and "hand out" when it falls below this
    median_frames: int = 3  # median over this many frames per lane, before the hysteresis
    merge_gap_ms: int = 300  # spans of neighbouring lanes closer than this in time are one reach
    min_ms: int = 100  # shorter spans are flicker
    max_ms: int = 20_000  # longer ones are not a hand but something in view that looks like one


@dataclass(frozen=True, slots=True)
class LaneScores:
    lane: int
    empty: float
    hand: float
    item: float  # a hand holding an item


@dataclass(frozen=True, slots=True)
class Reach:
    lanes: tuple[int, ...]  # every lane the hand was in, sorted
    t0: int  # first frame with the hand in
    t1: int  # first frame with the hand out again
    holding: Holding  # what the hand held when it left
    conf_pm: int  # mean smoothed P(hand in) over the in-frames, 0..1000
    x_mm: int  # median floor position of the person reaching; (0, 0) when not located
    y_mm: int
    located: bool  # whether the caller saw the reaching person in any frame of the reach


@dataclass(slots=True)
class _Span:
    lane: int
    t0: int
    t1: int | None = None  # None while the hand is still in
    p_sum: float = 0.0
    frames: int = 0
    shares: deque[float] = field(default_factory=lambda: deque(maxlen=HOLDING_FRAMES))
    seen: dict[int, tuple[int, int]] = field(default_factory=dict)  # frame t_ms -> reacher position
    holding: Holding = "unknown"

    @property
    def end(self) -> float:
        return self.t1 if self.t1 is not None else math.inf


class InteractionTracker:
    """One per camera, over the lanes it watches; a reach is reported once it can no longer grow."""

    def __init__(self, lanes: list[int], config: InteractionConfig) -> None:
        self._config = config
        self._windows = {lane: self._empty_window() for lane in lanes}
        lag = config.median_frames // 2 + 1
        self._times: deque[int] = deque(maxlen=lag)  # the last frames' times
        # Each lane's raw scores of those frames: the holding verdict reads the frame the median speaks for.
        self._raw: dict[int, deque[LaneScores | None]] = {lane: deque(maxlen=lag) for lane in lanes}
        self._open: dict[int, _Span] = {}
        self._closed: list[_Span] = []  # kept spans whose group has not been reported yet
        self._stuck: set[int] = set()  # lanes "in" for longer than max_ms, ignored until they read out

    def add(self, t_ms: int, scores: list[LaneScores], reachers: Mapping[int, tuple[int, int]]) -> list[Reach]:
        """One frame, with the floor position of whoever reaches towards each lane (where
        anyone does): returns the interactions that this frame completes (usually none)."""
        self._times.append(t_ms)
        smoothed_t = self._times[0]  # the frame the median now speaks for
        by_lane = {s.lane: s for s in scores}  # lanes not watched are never looked up
        for lane, window in self._windows.items():
            s = by_lane.get(lane)
            window.append(s.hand + s.item if s is not None else 0.0)
            raw = self._raw[lane]
            raw.append(s)
            self._step(lane, smoothed_t, statistics.median(window), raw[0], reachers.get(lane))
        return self._emit(smoothed_t, final=False)

    @property
    def stuck(self) -> list[int]:
        """Lanes read as "hand in" for longer than any reach: something in view looks like a hand."""
        return sorted(self._stuck)

    def flush(self, t_ms: int) -> list[Reach]:
        """End every open interaction at t_ms (node stopping)."""
        for lane in list(self._open):
            self._close(lane, t_ms)
        self._windows = {lane: self._empty_window() for lane in self._windows}
        self._times.clear()
        for raw in self._raw.values():
            raw.clear()
        return self._emit(t_ms, final=True)

    def _empty_window(self) -> deque[float]:
        n = self._config.median_frames
        return deque([0.0] * n, maxlen=n)

    def _step(self, lane: int, t_ms: int, p_in: float, s: LaneScores | None, reacher: tuple[int, int] | None) -> None:
        """The frame at t_ms (the one the median speaks for) on one lane, with its raw scores."""
        if lane in self._stuck:
            if p_in < self._config.leave:
                self._stuck.discard(lane)
            return
        span = self._open.get(lane)
        if span is None:
            if p_in < self._config.enter:
                return
            span = self._open[lane] = _Span(lane, t_ms)
        elif p_in < self._config.leave:
            self._close(lane, t_ms)
            return
        elif t_ms - span.t0 > self._config.max_ms:  # no hand stays this long: drop it, free its neighbours
            del self._open[lane]
            self._stuck.add(lane)
            return
        span.p_sum += p_in
        span.frames += 1
        if s is not None and s.hand + s.item > 0:
            span.shares.append(s.item / (s.hand + s.item))
        if reacher is not None:
            span.seen[t_ms] = reacher

    def _close(self, lane: int, t_ms: int) -> None:
        span = self._open.pop(lane)
        if t_ms - span.t0 < self._config.min_ms:
            return
        span.t1 = t_ms
        share = statistics.fmean(span.shares) if span.shares else (ITEM_SHARE + NO_ITEM_SHARE) / 2
        if share >= ITEM_SHARE:
            span.holding = "item"
        elif share <= NO_ITEM_SHARE:
            span.holding = "none"
        self._closed.append(span)

    def _emit(self, t_ms: int, final: bool) -> list[Reach]:
        if not self._closed:  # a group is only ever reported once one of its spans has closed
            return []
        reaches = []
        for group in _groups([*self._closed, *self._open.values()], self._config.merge_gap_ms):
            end = max(s.end for s in group)
            if end == math.inf:
                continue
            if final or t_ms >= end + self._config.merge_gap_ms:
                reaches.append(_reach(group))
                self._closed = [s for s in self._closed if all(s is not g for g in group)]
        return sorted(reaches, key=lambda r: (r.t0, r.lanes))


def _near(a: _Span, b: _Span, gap_ms: int) -> bool:
    """Same or neighbouring lanes, with the spans overlapping or apart by less than the gap."""
    if abs(a.lane - b.lane) > 1:
        return False
    return max(a.t0, b.t0) - min(a.end, b.end) < gap_ms


def _groups(spans: list[_Span], gap_ms: int) -> list[list[_Span]]:
    """Connected groups of spans: a sweep across lanes 1, 2, 3 is one group though 1 and 3 are not neighbours."""
    groups: list[list[_Span]] = []
    for span in spans:
        joined = [span]
        apart = []
        for group in groups:
            if any(_near(span, other, gap_ms) for other in group):
                joined.extend(group)
            else:
                apart.append(group)
        groups = [*apart, joined]
    return groups


def _reach(group: list[_Span]) -> Reach:
    # Several lanes left on the same frame: the one the hand moved into last is where it was.
    last = max(group, key=lambda s: (s.end, s.t0))
    assert last.t1 is not None
    seen: dict[int, tuple[int, int]] = {}
    for span in group:
        seen.update(span.seen)  # one frame seen through several lanes counts once
    conf = sum(s.p_sum for s in group) / sum(s.frames for s in group)
    x_mm = round(statistics.median(x for x, _ in seen.values())) if seen else 0
    y_mm = round(statistics.median(y for _, y in seen.values())) if seen else 0
    return Reach(
        lanes=tuple(sorted({s.lane for s in group})),
        t0=min(s.t0 for s in group),
        t1=last.t1,
        holding=last.holding,
        conf_pm=max(0, min(1000, round(1000 * conf))),
        x_mm=x_mm,
        y_mm=y_mm,
        located=bool(seen),
    )

"""The tracker: people who cross keep their tracks, a stray detection never becomes a
person, and a shopper the cameras lose is found again."""

import math

from gateway.fusion.tracker import Tracker


def walk(tracker: Tracker, paths: dict[str, tuple[tuple[float, float], tuple[float, float]]], t0: int, t1: int) -> None:
    """Everyone walks straight from their start to their end over [t0, t1], seen at 5 Hz."""
    for t in range(t0, t1 + 1, 200):
        share = (t - t0) / (t1 - t0)
        people = [
            (round(a[0] + (b[0] - a[0]) * share), round(a[1] + (b[1] - a[1]) * share), 900) for a, b in paths.values()
        ]
        tracker.frame(t, people)


def test_two_shoppers_crossing_keep_their_tracks() -> None:
    tracker = Tracker()
    walk(tracker, {"ann": ((0, 1000), (0, 1000)), "bob": ((3000, 1450), (3000, 1450))}, 0, 1000)
    ann = tracker.bind_near(1000, 0, 1000, 500)
    bob = tracker.bind_near(1000, 3000, 1450, 500)
    # head-on along an aisle, passing 450 mm apart
    walk(tracker, {"ann": ((0, 1000), (3000, 1000)), "bob": ((3000, 1450), (0, 1450))}, 1200, 4200)
    assert math.dist(tracker.tracks[ann.id].at(4200), (3000, 1000)) < 100
    assert math.dist(tracker.tracks[bob.id].at(4200), (0, 1450)) < 100
    assert math.dist(tracker.tracks[ann.id].at(2700), (1500, 1000)) < 100  # the path is kept


def test_a_single_stray_detection_never_becomes_a_person() -> None:
    tracker = Tracker()
    tracker.frame(0, [(2000, 2000, 600)])
    for t in range(200, 3000, 200):
        tracker.frame(t, [])
    assert tracker.tracks == {}


def test_a_lost_shopper_is_found_again_within_walking_distance() -> None:
    tracker = Tracker()
    walk(tracker, {"ann": ((500, 200), (500, 600))}, 0, 600)
    ann = tracker.bind_near(600, 500, 600, 800)
    for t in range(800, 4000, 200):
        tracker.frame(t, [])  # out of every camera's view for 3 s
    walk(tracker, {"ann": ((1800, 900), (1900, 900))}, 4000, 5000)
    assert list(tracker.tracks) == [ann.id]
    assert math.dist((ann.x, ann.y), (1900, 900)) < 60


def test_binding_with_nobody_seen_places_the_shopper_at_the_gate() -> None:
    tracker = Tracker()
    ann = tracker.bind_near(0, 700, 150, 1500)
    assert ann.bound and (ann.x, ann.y) == (700, 150)
    walk(tracker, {"ann": ((700, 400), (700, 1200))}, 300, 1500)
    assert list(tracker.tracks) == [ann.id] and math.dist((ann.x, ann.y), (700, 1200)) < 60
    tracker.release(ann.id)
    assert tracker.tracks == {}

"""The tracker: people who cross keep their tracks, a stray detection never becomes a
person, and a shopper the cameras lose is found again."""

import math

from gateway.fusion.tracker import MAX_DETECTIONS, MAX_TRACKS, Tracker


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


def test_two_shoppers_lost_together_are_each_found_where_they_were() -> None:
    tracker = Tracker()
    walk(tracker, {"ann": ((2500, 3300), (2500, 3300)), "bob": ((3200, 3300), (3200, 3300))}, 0, 600)
    ann = tracker.bind_near(600, 2500, 3300, 300)
    bob = tracker.bind_near(600, 3200, 3300, 300)
    for t in range(800, 2800, 200):
        tracker.frame(t, [])  # the camera drops its frames for 2 s while both walk off
    # bob's new track is confirmed first; it still must not become ann
    walk(tracker, {"bob": ((3200, 2500), (3300, 2500))}, 2800, 3200)
    walk(tracker, {"ann": ((2500, 2900), (2400, 2950)), "bob": ((3400, 2500), (3500, 2500))}, 3400, 4400)
    assert math.dist((ann.x, ann.y), (2400, 2950)) < 80
    assert math.dist((bob.x, bob.y), (3500, 2500)) < 80


def test_a_stray_track_beside_a_shoppers_path_does_not_take_their_sightings() -> None:
    tracker = Tracker()
    walk(tracker, {"ann": ((1700, 1900), (1700, 1900))}, 0, 800)  # standing at a shelf
    ann = tracker.bind_near(800, 1700, 1900, 300)
    tracker.frame(900, [(1700, 1900, 900), (1700, 2350, 600)])  # a false detection behind her
    tracker.frame(1000, [(1700, 2150, 900)])  # she turns and walks off, nearer the stray than her last place
    assert (ann.t_ms, ann.y) == (1000, 2150)
    walk(tracker, {"ann": ((1700, 2300), (1700, 2900))}, 1200, 2400)
    assert math.dist((ann.x, ann.y), (1700, 2900)) < 60


def test_a_shopper_inside_never_follows_someone_still_outside_the_gate() -> None:
    tracker = Tracker(outside=((-800, -1e9, 2200, 150),))
    ann = tracker.bind_near(0, 700, 150, 1500)  # the cameras missed her coming in
    walk(tracker, {"bob": ((700, -100), (700, 100))}, 200, 800)  # the next one, still outside
    assert (ann.x, ann.y) == (700, 150)
    walk(tracker, {"bob": ((700, 100), (700, 100)), "ann": ((500, 900), (400, 1100))}, 1000, 2400)
    assert math.dist((ann.x, ann.y), (400, 1100)) < 60


def test_a_lost_track_heads_where_its_last_motion_was_taking_it_and_no_further() -> None:
    tracker = Tracker()
    walk(tracker, {"ann": ((0, 0), (2000, 0))}, 0, 2000)  # 1 mm/ms along +x, last seen at (2000, 0)
    track = next(iter(tracker.tracks.values()))
    gate = (5000, 400)
    assert math.dist(track.toward(3000, *gate), (3000, 0)) < 150, "one second lost: a metre on"
    assert math.dist(track.toward(9000, *gate), (5000, 0)) < 250, "the nearest it came to the gate on its way"
    assert math.dist(track.toward(9000, -3000, 0), (2000, 0)) < 50, "a gate behind it: it was walking away"


def test_a_camera_cannot_make_the_tracker_hold_more_than_its_bounds() -> None:
    """Issue 20: frames of 256 detections each made thousands of tracks, and every frame was
    matched against them all, so one camera held the journal's commits back for seconds."""
    tracker = Tracker()
    crowd = [(x * 1_000, y * 1_000, 900) for x in range(16) for y in range(16)]
    assert tracker.frame(0, crowd) == len(crowd) - MAX_DETECTIONS
    dropped = sum(tracker.frame(t, [(x + t * 100_000, y, c) for x, y, c in crowd]) for t in range(1, 10))
    assert len(tracker.tracks) == MAX_TRACKS
    assert dropped == 9 * len(crowd) - (MAX_TRACKS - MAX_DETECTIONS)
    shopper = tracker.bind_near(10, 100_000, 100_000, 500)
    assert shopper.bound and shopper.id in tracker.tracks, "a shopper's own track is always made"

"""The full path's drives: each node's hardware feels exactly what the world did, and the
simulated sources play a drive on the wall clock the store's nodes share."""

import math
import random
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from edge.protocol.configfile import ConfigError
from edge.protocol.qr_token import verify
from edge.runtime.config import CameraConfig
from gateway.layout import SMALL_STORE, parse_layout
from hw.sim.camera_source import SimCameraSource, reference_floor_mm
from hw.sim.shelf_source import SimShelfSource
from hw.sim.world.drives import (
    STOCK_ITEMS,
    CameraDrive,
    GateDrive,
    LaneChange,
    LaneDrive,
    ShelfDrive,
    build_drives,
    load_drive,
    reference_view,
    save_drive,
    to_store,
)
from hw.sim.world.suites import plan_store

LAYOUT = parse_layout(SMALL_STORE.read_text())
WALL0 = 1_800_000_000_000
KEY = SigningKey(bytes(range(32)))


@pytest.fixture(scope="module")
def world():  # type: ignore[no-untyped-def]
    visits, resolved, start = plan_store(LAYOUT, 10, 5, (6_000, 12_000))
    drives = build_drives(LAYOUT, visits, resolved, start, WALL0, KEY, random.Random(5))
    return visits, resolved, start, drives


def test_each_lane_is_driven_by_every_change_the_world_made_to_it(world) -> None:  # type: ignore[no-untyped-def]
    _, resolved, start, drives = world
    driven: dict[tuple[str, int], int] = {}
    for shelf in LAYOUT.shelves:
        drive = drives[shelf.shelf]
        assert isinstance(drive, ShelfDrive) and drive.wall0_ms == WALL0
        assert [lane.lane for lane in drive.lanes] == [slot.lane for slot in shelf.lanes]
        for slot, lane in zip(shelf.lanes, drive.lanes, strict=True):
            assert lane.start_mg >= STOCK_ITEMS * LAYOUT.catalogue[slot.sku].unit_mg
            assert [c.t0 for c in lane.changes] == sorted(c.t0 for c in lane.changes)
            for c in lane.changes:
                driven[(shelf.shelf, lane.lane)] = driven.get((shelf.shelf, lane.lane), 0) + c.delta_mg
    truth: dict[tuple[str, int], int] = {}
    for change in resolved.changes:
        truth[(change.shelf, change.lane)] = truth.get((change.shelf, change.lane), 0) + change.delta_mg
    assert driven == truth and len(truth) > 3


def test_every_reach_at_a_cameras_shelf_is_in_its_drive_where_the_shopper_stands(world) -> None:  # type: ignore[no-untyped-def]
    visits, _, start, drives = world
    people = {person.id: person for visit in visits for person in visit.people}
    checked = 0
    for camera in LAYOUT.cameras:
        drive = drives[camera.node]
        assert isinstance(drive, CameraDrive) and drive.shelf == camera.shelves[0]
        shelf = LAYOUT.shelf_by_id[drive.shelf]
        moves = {(walk.person, move.t0) for walk in drive.walks for move in walk.moves}
        for person in people.values():
            for reach in person.reaches:
                if reach.shelf == drive.shelf:
                    assert (person.id, reach.t0 - start) in moves
        for walk in drive.walks:
            for t, x, y in walk.path[:: max(1, len(walk.path) // 5)]:
                truth = people[walk.person].at(t + start)
                assert truth is not None and math.dist(to_store(drive, x, y), truth) < 2
            for move in walk.moves:
                lane = shelf.lanes[move.lane_index]
                spot = LAYOUT.lane_spots[(shelf.shelf, lane.lane)]
                where = people[walk.person].at(move.t0 + start)
                assert where is not None and math.dist(where, (spot.x_mm, spot.y_mm)) < 700
                checked += 1
    assert checked > 5


def test_the_gate_drive_shows_upstream_signed_codes_valid_when_shown_then_walks(world) -> None:  # type: ignore[no-untyped-def]
    visits, _, start, drives = world
    drive = drives["gate-01"]
    assert isinstance(drive, GateDrive)
    assert [act.t for act in drive.acts] == sorted(act.t for act in drive.acts)
    accounts = {person.id: visit.account for visit in visits for person in visit.people}
    for person_id, account in accounts.items():
        acts = [act for act in drive.acts if act.person == person_id]
        assert [act.act for act in acts] == ["show", "in", "out"]
        assert acts[0].token is not None
        claims = verify(acts[0].token, KEY.verify_key, WALL0 + acts[0].t)
        assert claims.account == account and claims.purpose == "entry"


def test_a_drive_file_of_another_role_or_garbage_is_refused(tmp_path: Path, world) -> None:  # type: ignore[no-untyped-def]
    drives = world[3]
    save_drive(tmp_path / "shelf.json", drives["shelf-01"])
    assert load_drive(tmp_path / "shelf.json", ShelfDrive) == drives["shelf-01"]
    with pytest.raises(ConfigError, match="drives a ShelfDrive, not a CameraDrive"):
        load_drive(tmp_path / "shelf.json", CameraDrive)
    (tmp_path / "bad.json").write_text('{"type": "shelf"')
    with pytest.raises(ConfigError, match="cannot read the world drive"):
        load_drive(tmp_path / "bad.json", ShelfDrive)
    with pytest.raises(ConfigError, match="cannot read the world drive"):
        load_drive(tmp_path / "missing.json", ShelfDrive)


def test_a_driven_shelf_source_feels_the_worlds_change_on_the_shared_clock() -> None:
    now = [100.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    # the world starts 2 s after the source; the hand is in lane 1 from 5 s to 6 s of it
    change = LaneChange(5_000, 6_000, -355_000, 20_000)
    drive = ShelfDrive(WALL0 + 2_000, [LaneDrive(0, 900_000, []), LaneDrive(1, 4_000_000, [change])])
    source = SimShelfSource([0, 1], 10, seed=3, clock=lambda: now[0], wall_ms=lambda: WALL0, sleep=sleep, drive=drive)
    calibration = source.factory_calibration()
    grams: dict[int, list[tuple[int, float]]] = {0: [], 1: []}
    for _ in range(120):
        reading = source.read()
        for lane, counts in reading.counts.items():
            assert counts is not None
            grams[lane].append((reading.t_ms - WALL0, calibration[lane].weight_mg(counts) / 1000))
    before = [g for t, g in grams[1] if t < 6_900]
    after = [g for t, g in grams[1] if t > 8_200]
    assert all(abs(g - 4_000) < 10 for g in before) and all(abs(g - 3_645) < 10 for g in after)
    assert all(abs(g - 900) < 10 for _, g in grams[0])
    with pytest.raises(ConfigError, match=r"no lanes \[2\]"):
        SimShelfSource([0, 1, 2], 10, seed=3, drive=drive)


def test_a_driven_camera_renders_the_worlds_people_and_reports_them_on_the_store_floor(world) -> None:  # type: ignore[no-untyped-def]
    drive = world[3]["camera-04"]
    assert isinstance(drive, CameraDrive)
    walk = max(drive.walks, key=lambda w: len(w.moves))
    view = reference_view(LAYOUT.shelf_by_id[drive.shelf])
    placed = CameraConfig(shelf=drive.shelf, floor_mm=reference_floor_mm(view, drive))
    t, x, y = walk.path[len(walk.path) // 2]
    now = [50.0]
    source = SimCameraSource(
        placed, seed=1, clock=lambda: now[0], sleep=lambda s: None, drive=drive, wall=lambda: WALL0 + t
    )
    assert source.wall0 == WALL0
    frame = source.read()
    assert abs(frame.t_ms - (WALL0 + t)) <= 1000 / placed.fps
    assert any(math.dist(where, (x, y)) < 200 for where in source.scene.people(frame.t_ms - WALL0))
    assert reference_floor_mm(view, None) == [(round(a), round(b)) for a, b in view.floor_marks()[1]]
    with pytest.raises(ConfigError, match="floor_mm must be its shelf's place"):
        SimCameraSource(CameraConfig(shelf=drive.shelf), seed=1, drive=drive)
    with pytest.raises(ConfigError, match="the world drive is of shelf"):
        SimCameraSource(CameraConfig(shelf="shelf-01", floor_mm=placed.floor_mm), seed=1, drive=drive)

"""`storenode run` for a shelf on the sim backend, end to end: simulated shoppers, load cells,
calibration, the detector, the runtime, the broker and the gateway's journal."""

import random
import signal
import time

from edge.protocol.roles import Role
from edge.shelf.calibration import CalibrationStore, LaneCalibration
from firmware_tests.conftest import FIRMWARE_BASE, Store, wait_until
from hw.sim.shelf_activity import ActivityConfig, Lane, TrueChange
from hw.sim.shelf_source import HOURS


def test_a_simulated_shelf_reports_each_lanes_changes_in_order(make_store) -> None:  # type: ignore[no-untyped-def]
    store: Store = make_store([("shelf-01", Role.SHELF)])
    config = store.node_config("shelf-01")
    config.write_text(config.read_text().replace('backend = "sim"', 'backend = "sim"\nseed = 42'))
    store.start_gateway()
    node = store.spawn("shelf-01", "-m", "edge.runtime.cli", "--config", str(config), "run")
    time.sleep(25)  # the run: 25 s of simulated shoppers at least,
    wait_until(lambda: len(store.events("shelf-01", "weight")) >= 2, 120, "and two changes, however slow the start")
    node.send_signal(signal.SIGTERM)
    assert node.wait(60) == 0
    events = store.events("shelf-01", "weight")
    for lane in range(4):
        model = Lane(lane, ActivityConfig(), random.Random(42 * 1009 + lane))
        truth = [change.delta_mg for change in _changes(model)]
        seen = [event["delta_mg"] for event in events if event["lane"] == lane]
        assert len(seen) <= len(truth)
        for got, expected in zip(seen, truth, strict=False):
            assert abs(got - expected) < 3_000, f"lane {lane}: {seen} against {truth[: len(seen)]}"
    assert all(event["shelf"] == "shelf-01" and event["t0"] < event["t1"] for event in events)
    wait_until(lambda: len(store.journaled("shelf-01", "telemetry")) >= 1, 30, "telemetry")


def _changes(model: Lane) -> list[TrueChange]:
    list(model.episodes(HOURS))
    return model.truth


def test_the_board_firmware_through_the_mcu_source_to_journaled_events(make_store, firmware) -> None:  # type: ignore[no-untyped-def]
    """MicroPython firmware -> pty -> `mcu` source -> calibration -> detector -> node -> gateway."""
    store: Store = make_store([("shelf-01", Role.SHELF)])
    store.start_gateway()
    link = firmware.plug(steps=[[3_000, 1, 300_000]])  # 300,000 counts onto lane 1 after 3 s
    config = store.node_config("shelf-01")
    config.write_text(config.read_text().replace('backend = "sim"', f'backend = "mcu"\nport = "{link}"'))
    CalibrationStore(config.parent / "state" / "calibration.toml").save(
        {lane: LaneCalibration(offset=FIRMWARE_BASE[lane], counts_per_g=420.0) for lane in range(4)}
    )
    node = store.spawn("shelf-01", "-m", "edge.runtime.cli", "--config", str(config), "run")
    wait_until(lambda: len(store.journaled("shelf-01", "weight")) >= 1, 60, "the step as a weight event")
    node.send_signal(signal.SIGTERM)
    assert node.wait(60) == 0
    events = store.events("shelf-01", "weight")
    assert [(e["lane"], round(e["delta_mg"] / 1000)) for e in events] == [(1, round(300_000 / 420.0))]

"""`storenode run` for a camera, end to end: frames (a rendered scene in real time, or a
recording replayed from a folder), the model, the pipeline, the runtime, the broker and
the gateway's journal."""

import os
import signal
import time
from pathlib import Path

from PIL import Image

from edge.protocol.roles import Role
from firmware_tests.conftest import Store, wait_until
from hw.sim.camera_render import Renderer, ShelfView
from hw.sim.camera_scene import CameraScene
from hw.sim.camera_source import DAY_MS


def _camera(make_store, backend: str) -> tuple[Store, Path]:  # type: ignore[no-untyped-def]
    store: Store = make_store([("camera-01", Role.CAMERA)])
    config = store.node_config("camera-01")
    text = config.read_text().replace('backend = "sim"', backend).replace('shelf = "camera-01"', 'shelf = "shelf-01"')
    config.write_text(text)
    store.start_gateway()
    return store, config


def test_a_simulated_camera_reports_the_scenes_reaches_and_people(make_store) -> None:  # type: ignore[no-untyped-def]
    store, config = _camera(make_store, 'backend = "sim"\nseed = 1')
    node = store.spawn("camera-01", "-m", "edge.runtime.cli", "--config", str(config), "run")
    wait_until(lambda: len(store.events("camera-01", "interaction")) >= 3, 60, "the scene's first three reaches")
    node.send_signal(signal.SIGTERM)
    assert node.wait(60) == 0
    truth = CameraScene(ShelfView(), 1, DAY_MS).truth()[:3]
    found = store.events("camera-01", "interaction")[:3]
    assert [tuple(e["lanes"]) for e in found] == [t.lanes for t in truth]
    assert [e["holding"] for e in found] == [t.holding for t in truth]
    presence = store.events("camera-01", "presence")
    for event, true in zip(found, truth, strict=True):  # same durations and spacing, on the node's clock
        assert event["shelf"] == "shelf-01"
        # Located where the person stood; (0, 0) is 'not located', right only if the presence
        # process saw nobody all through the reach (still starting, or late on a loaded machine).
        if (event["x_mm"], event["y_mm"]) != (0, 0):
            assert abs(event["x_mm"] - true.x_mm) <= 300 and abs(event["y_mm"] - true.y_mm) <= 300, (event, true)
        else:
            seen = [p for p in presence if p["people"] and event["t0"] <= p["ts"] <= event["t1"]]
            assert seen == [], ("not located, though presence saw people during the reach", event, seen)
        assert abs((event["t1"] - event["t0"]) - (true.t1 - true.t0)) <= 250
        assert abs((event["t0"] - found[0]["t0"]) - (true.t0 - truth[0].t0)) <= 250
    assert any((e["x_mm"], e["y_mm"]) != (0, 0) for e in store.events("camera-01", "interaction")), "none located"
    # on the frames' clock, from the first detection to the last: not the test's wall clock,
    # which also counts the node's start (the model, the presence process) however slow
    ran_s = (presence[-1]["ts"] - presence[0]["ts"]) / 1000
    assert len(presence) >= 4 * ran_s, f"{len(presence)} presence detections in {ran_s:.1f} s of frames"
    assert any(p["people"] for p in presence)
    gaps = sorted(b["ts"] - a["ts"] for a, b in zip(presence, presence[1:], strict=False))
    assert 180 <= gaps[len(gaps) // 2] <= 220 and gaps[0] >= 100, f"5 Hz, not every frame: {gaps}"


def test_a_replayed_recording_is_reported_and_the_node_idles_after_it(make_store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    view = ShelfView()
    scene, renderer = CameraScene(view, 11, 60_000), Renderer(view)
    recording = tmp_path / "rec"
    recording.mkdir()
    for t in range(0, 9_500, 66):
        Image.fromarray(renderer.render(scene.spec(t))).save(recording / f"{t:06d}.png")
    store, config = _camera(make_store, f'backend = "replay"\npath = "{recording}"')
    node = store.spawn("camera-01", "-m", "edge.runtime.cli", "--config", str(config), "run")
    truth = [r for r in scene.truth() if r.t1 < 9_000]
    assert len(truth) == 2
    wait_until(lambda: len(store.events("camera-01", "interaction")) >= len(truth), 60, "the recording's reaches")
    log = store.root / "camera-01.log"
    wait_until(lambda: b"the recording has ended" in log.read_bytes(), 60, "the recording's end")
    time.sleep(2)  # a window to see it not exit by itself
    assert node.poll() is None, "a node whose recording ended idles until it is stopped"
    node.send_signal(signal.SIGTERM)
    assert node.wait(60) == 0
    found = store.events("camera-01", "interaction")
    assert [(tuple(e["lanes"]), e["holding"]) for e in found] == [(t.lanes, t.holding) for t in truth]
    spacing = found[1]["t0"] - found[0]["t0"]
    assert abs(spacing - (truth[1].t0 - truth[0].t0)) <= 150, "the recording's own times are kept"


def test_a_stop_sent_to_the_whole_process_group_is_a_clean_stop(make_store) -> None:  # type: ignore[no-untyped-def]
    """systemd and Ctrl-C signal the presence child too: the node still stops in order."""
    store, config = _camera(make_store, 'backend = "sim"\nseed = 1')
    node = store.spawn("camera-01", "-m", "edge.runtime.cli", "--config", str(config), "run", own_group=True)
    wait_until(lambda: len(store.events("camera-01", "presence")) >= 10, 30, "the camera running, presence and all")
    os.killpg(node.pid, signal.SIGINT)  # Ctrl-C at a terminal; systemd sends SIGTERM the same way
    assert node.wait(20) == 0
    log = (store.root / "camera-01.log").read_text()
    assert "presence process failed" not in log and "Traceback" not in log
    wait_until(lambda: store.query("SELECT state FROM devices WHERE dev='camera-01'") == [("stopped",)], 30, "stopped")

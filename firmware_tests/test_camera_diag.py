"""A camera node's console: the lanes in the latest frame and the frame statistics, from a
real camera node on its simulated camera; and the frame-time summary itself."""

from edge.camera.diag import FrameTimes
from edge.protocol.roles import Role
from firmware_tests.conftest import Store, wait_until


def test_the_frame_rate_and_times_come_from_the_window() -> None:
    times = FrameTimes()
    assert times.summary() == (0, 0, 0)
    for i in range(31):
        times.add(i / 15, 2.0 + (i % 3))
    fps10, median_ms, worst_ms = times.summary()
    assert fps10 == 150 and median_ms == 3 and worst_ms == 4


def test_a_camera_node_answers_read_and_camera_stats(make_store) -> None:  # type: ignore[no-untyped-def]
    store: Store = make_store([("cam-01", Role.CAMERA)])
    console = store.start_with_console("cam-01")
    link = console.link()
    wait_until(lambda: int(link.ask(["camera", "stats"])[0]["frames"]) >= 30, 30, "30 frames")
    (stats,) = link.ask(["camera", "stats"])
    assert stats["source"] == "sim" and stats["size"] == "256x192"
    assert 100 <= int(stats["fps_x10"]) <= 200, stats
    assert int(stats["last_frame_ms_ago"]) < 1000
    lanes = link.ask(["read"])
    assert [lane["lane"] for lane in lanes] == ["0", "1", "2", "3"]
    for lane in lanes:
        assert sum(int(lane[key]) for key in ("hand_pm", "item_pm", "empty_pm")) in range(990, 1011)

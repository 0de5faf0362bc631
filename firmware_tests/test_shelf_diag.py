"""A technician calibrating a shelf through its console, against a real shelf node reading
a simulated board: tare, span with a test weight, return to zero, a lane that will not
keep still, and nothing of it reaching the store as shoppers' weight events."""

import time

import pytest

from edge.diag.link import Refused
from edge.protocol.diag import Record
from edge.protocol.roles import Role
from edge.shelf.calibration import CalibrationStore
from firmware_tests.conftest import FIRMWARE_BASE, BenchLoads, ConsoleNode, Store, wait_until

COUNTS_PER_G = 420


@pytest.fixture
def shelf(make_store, bench_board) -> tuple[ConsoleNode, BenchLoads]:  # type: ignore[no-untyped-def]
    store: Store = make_store([("shelf-01", Role.SHELF)])
    store.start_gateway()
    board, loads = bench_board
    console = store.start_with_console("shelf-01", f'backend = "mcu"\nport = "{board.link}"')
    wait_until(lambda: _readable(console), 60, "the shelf's first reading")
    return console, loads


def _readable(console: ConsoleNode) -> bool:
    try:
        console.link().ask(["read"])
    except Refused:
        return False
    return True


def _lane(records: list[Record], lane: int) -> Record:
    return next(r for r in records if r["lane"] == str(lane))


def _refused(console: ConsoleNode, *words: str) -> Refused:
    with pytest.raises(Refused) as refused:
        console.link().ask(list(words))
    return refused.value


def test_the_calibration_routine(shelf: tuple[ConsoleNode, BenchLoads]) -> None:
    console, loads = shelf
    link = console.link()
    assert _lane(link.ask(["read"]), 1)["state"] == "uncalibrated"
    assert _refused(console, "tare", "1").code == "needs_service"
    link.ask(["service", console.pin])
    assert "tare 1" in _refused(console, "calibrate", "1", "500").text, "a lane is tared before it is spanned"

    (progress, tared) = link.ask(["tare", "1"])
    assert progress["collecting_s"] == "2"
    assert abs(int(tared["offset"]) - FIRMWARE_BASE[1]) < 100 and tared["next"] == "calibrate 1 GRAMS"

    loads.counts[1] += 500 * COUNTS_PER_G  # the 500 g test weight goes on
    (_, spanned) = link.ask(["calibrate", "1", "500"])
    assert abs(int(spanned["counts_per_kg"]) - 1000 * COUNTS_PER_G) < 1000
    assert abs(int(spanned["reads_mg"]) - 500_000) < 200
    wait_until(lambda: abs(int(_lane(link.ask(["read"]), 1)["weight_mg"]) - 500_000) < 500, 30, "500 g read")

    loads.counts[1] -= 500 * COUNTS_PER_G  # and off again: back to zero
    wait_until(lambda: abs(int(_lane(link.ask(["read"]), 1)["weight_mg"])) < 500, 30, "zero read again")
    loads.counts[1] += 5 * COUNTS_PER_G  # the cell's zero creeps by 5 g
    wait_until(lambda: abs(int(_lane(link.ask(["read"]), 1)["weight_mg"]) - 5_000) < 500, 30, "the creep read")
    (_, retared) = link.ask(["tare", "1"])
    assert abs(int(retared["moved_mg"]) - 5_000) < 500, "the re-tare says how far the zero had moved"
    wait_until(lambda: _lane(link.ask(["read"]), 1)["state"] == "settled", 30, "the lane settled")

    status = {r["counter"]: int(r["count"]) for r in link.ask(["status"]) if "counter" in r}
    link.ask(["service", "end"])
    time.sleep(3)
    assert console.store.events("shelf-01", "weight") == [], "the technician's test weight became an event"
    assert status["lanes_uncalibrated"] == 3

    saved = CalibrationStore(console.store.site.node_dir("shelf-01") / "state" / "calibration.toml").load()
    assert set(saved) == {1} and abs(saved[1].counts_per_g - COUNTS_PER_G) < 1 and saved[1].known_mg == 500_000


def test_a_lane_that_moves_is_not_tared_and_nothing_changes(shelf: tuple[ConsoleNode, BenchLoads]) -> None:
    console, loads = shelf
    _calibrated(console, loads, lane=2, grams=500)
    path = console.store.site.node_dir("shelf-01") / "state" / "calibration.toml"
    before = path.read_bytes()
    loads.noise = 5_000  # a hand on the lane
    refused = _refused(console, "tare", "2")
    assert refused.code == "failed" and "not still" in refused.text and "nothing was changed" in refused.text
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("words", "code"),
    [
        (["calibrate", "9", "500"], "bad_args"),
        (["calibrate", "1", "-5"], "bad_args"),
        (["calibrate", "1", "abc"], "bad_args"),
        (["calibrate", "1", "0.0005"], "bad_args"),
        (["calibrate", "1", "NaN"], "bad_args"),
        (["calibrate", "1"], "bad_args"),
        (["tare", "1", "2"], "bad_args"),
        (["board", "rate"], "bad_args"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_read(
    shelf: tuple[ConsoleNode, BenchLoads], words: list[str], code: str
) -> None:
    console, _ = shelf
    console.link().ask(["service", console.pin])
    assert _refused(console, *words).code == code


def test_the_board_is_reached_through_the_node(shelf: tuple[ConsoleNode, BenchLoads]) -> None:
    console, _ = shelf
    link = console.link()
    assert link.ask(["board", "id"]) == [{"board": "id", "answer": "id rp2040 sim fw 1"}]
    assert link.ask(["board", "selftest"])[0]["answer"] == "selftest ok"
    (stats,) = link.ask(["board"])
    assert int(stats["frames"]) > 0 and stats["port"].endswith("shelf-mcu")


def test_a_calibration_survives_a_restart(shelf: tuple[ConsoleNode, BenchLoads]) -> None:
    console, loads = shelf
    _calibrated(console, loads, lane=0, grams=1000)
    console.restart()
    wait_until(lambda: _read_lane0(console) is not None, 60, "lane 0 read after the restart")
    assert abs(int(_read_lane0(console) or 0) - 1_000_000) < 1_000


def _calibrated(console: ConsoleNode, loads: BenchLoads, lane: int, grams: int) -> None:
    """In service mode: the empty lane tared, then spanned with `grams` put on it (left on)."""
    link = console.link()
    link.ask(["service", console.pin])
    link.ask(["tare", str(lane)])
    loads.counts[lane] += grams * COUNTS_PER_G
    link.ask(["calibrate", str(lane), str(grams)])


def _read_lane0(console: ConsoleNode) -> str | None:
    try:
        value = str(_lane(console.link().ask(["read"]), 0)["weight_mg"])
    except Refused:
        return None
    return None if value == "-" else value

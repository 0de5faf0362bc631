"""gateway/operator/board.py and screen.py: a dashboard's picture of the store from the
gateway's topics, and the lines `storegw top` draws from it."""

import msgspec

from edge.protocol.status import GatewayStatus, Rates
from gateway.operator.alerts import Alert
from gateway.operator.board import Board
from gateway.operator.model import DeviceHealth, DeviceView, LaneView, SessionView, ShelfView
from gateway.operator.screen import render

PREFIX = "store/test/gateway"
NOW = 1_700_000_000_000


def filled() -> Board:
    board = Board("test")
    status = GatewayStatus("online", "0.1.0", 3_700, 120, 1, {"bad_signature": 2}, 0, Rates(60, 0, 2), 1, 2, 1, 0, "up")
    board.take(f"{PREFIX}/state", msgspec.json.encode(status))
    device = DeviceView("shelf-01", "shelf", "online", NOW - 2_000, 3, 0, DeviceHealth(60, 421, {}), [])
    board.take(f"{PREFIX}/devices/shelf-01", msgspec.json.encode(device))
    lost = DeviceView("gate-01", "gate", "offline", NOW - 90_000, 1, None, None, ["device_offline"])
    board.take(f"{PREFIX}/devices/gate-01", msgspec.json.encode(lost))
    shelf = ShelfView("shelf-01", [LaneView(0, "cola", 1_650_000, 5, ["chips"])], NOW)
    board.take(f"{PREFIX}/shelves/shelf-01", msgspec.json.encode(shelf))
    session = SessionView("s-q1", "open", NOW - 30_000, None, 1, 1, [("cola", 2)], [], 1000)
    board.take(f"{PREFIX}/sessions/s-q1", msgspec.json.encode(session))
    alert = Alert(NOW, "device_offline", "offline", "gate-01", "gate-01 is offline")
    board.take(f"{PREFIX}/alerts", msgspec.json.encode(alert))
    return board


def test_the_board_holds_what_the_topics_say_and_an_empty_payload_removes_it() -> None:
    board = filled()
    assert set(board.devices) == {"shelf-01", "gate-01"} and set(board.sessions) == {"s-q1"}
    board.take(f"{PREFIX}/sessions/s-q1", b"")
    assert board.sessions == {}
    board.take(f"{PREFIX}/devices/shelf-01", b"{not json")
    board.take(f"{PREFIX}/devices/shelf-01", b'{"node": 5}')
    assert board.unreadable == 2 and board.devices["shelf-01"].availability == "online"
    board.take(f"{PREFIX}/devices/a/b", b"{}")
    assert board.unreadable == 2, "topics it does not know are ignored"


def test_the_screen_shows_each_part_and_fits_the_terminal() -> None:
    screen = render(filled(), "127.0.0.1:1883", NOW, 100, 40)
    text = "\n".join(screen)
    assert "gateway online v0.1.0 up 1h01" in text
    assert "devices 1/2 online  sessions 1 open  review queue 0  rejected 2 (bad_signature 2)" in text
    assert any(line.startswith("shelf-01") and "online" in line and "2s" in line and "42.1C" in line for line in screen)
    assert any(line.startswith("gate-01") and "offline" in line and "device_offline" in line for line in screen)
    assert any("1.650kg" in line and "chips" in line for line in screen)
    assert any(line.startswith("s-q1") and "open" in line for line in screen)
    assert "device_offline gate-01: gate-01 is offline" in text
    assert all(len(line) <= 100 for line in screen)
    small = render(filled(), "x", NOW, 40, 12)
    assert len(small) <= 12 and all(len(line) <= 40 for line in small)
    assert small[-1] == "q quits" and any("more lines" in line for line in small)


def test_before_the_gateway_has_said_anything_the_screen_says_so() -> None:
    screen = render(Board("test"), "refused: Not authorized", NOW, 120, 30)
    assert "gateway: no status yet" in screen[0] and "refused: Not authorized" in screen[0]


def test_a_gateway_gone_is_shouted_and_its_stale_figures_are_not_shown() -> None:
    board = filled()
    gone = GatewayStatus("offline", "0.1.0", 0, 0, 0, {}, 0)
    board.take(f"{PREFIX}/state", msgspec.json.encode(gone))
    screen = render(board, "127.0.0.1:1883", NOW, 100, 40)
    assert "gateway OFFLINE" in screen[0] and "as it last published" in screen[1]
    assert not any("msg/min" in line for line in screen)
    assert any(line.startswith("shelf-01") for line in screen), "the last known devices stay listed"

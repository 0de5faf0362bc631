"""The diagnostics console of a real node process, over a null-modem cable of two ptys:
garbage, partial lines, overlong lines, line noise, a cable cut or pulled in the middle
of a command, PIN guessing across restarts, and no secret in any answer."""

import base64
import contextlib
import random
import threading
import time
from collections.abc import Callable

import pytest
import serial

from edge.diag.link import NoAnswer, Refused
from edge.protocol.diag import Reply, encode_request, parse_reply
from edge.protocol.keys import load_signing_key
from edge.protocol.lines import LineBuffer
from edge.protocol.roles import Role
from firmware_tests.conftest import ConsoleNode, Store, wait_until


@pytest.fixture
def shelf(make_store, bench_board) -> ConsoleNode:  # type: ignore[no-untyped-def]
    """A shelf node on a simulated board with still lanes, so that a tare always succeeds."""
    store: Store = make_store([("shelf-01", Role.SHELF)])
    board, _ = bench_board
    return store.start_with_console("shelf-01", f'backend = "mcu"\nport = "{board.link}"')


class Wire:
    """The laptop end, byte by byte: what a terminal program would send and see."""

    def __init__(self, console: ConsoleNode) -> None:
        self.port = serial.Serial(str(console.laptop), 115200, timeout=0.05)
        self._lines = LineBuffer(4096)

    def send(self, data: bytes) -> None:
        self.port.write(data)
        self.port.flush()

    def replies(self, tag: str, timeout_s: float = 30, first_only: bool = False) -> list[Reply]:
        """Every answer line under `tag` up to and including the final one (or the first)."""
        out: list[Reply] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in self._lines.feed(self.port.read(4096)):
                reply = parse_reply(line)
                if reply is not None and reply.tag == tag:
                    out.append(reply)
                    if reply.kind != "data" or first_only:
                        return out
        raise AssertionError(f"no final answer under {tag} in {timeout_s} s; got {out}")

    def until(self, done: Callable[[list[Reply]], bool], what: str, timeout_s: float = 30) -> list[Reply]:
        """Every answer line, whatever its tag, until `done` says the ones so far are enough."""
        out: list[Reply] = []
        deadline = time.monotonic() + timeout_s
        while not done(out):
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} in {timeout_s} s; got {out}")
            out += [r for line in self._lines.feed(self.port.read(4096)) if (r := parse_reply(line)) is not None]
        return out


def _status(console: ConsoleNode) -> dict[str, str]:
    return {str(k): str(v) for k, v in console.link().ask(["status"])[0].items()}


def test_garbage_and_a_command_typed_in_pieces(shelf: ConsoleNode) -> None:
    wire = Wire(shelf)
    rng = random.Random(5)
    wire.send(bytes(rng.randrange(256) for _ in range(300)) + b"\n")  # noise, ended by a newline
    wire.send(b"\x00\x1b[A\xff\n")
    wire.send(b"sta")
    time.sleep(0.5)
    wire.send(b"tus\r")  # Enter in most terminal programs

    def answered(replies: list[Reply]) -> bool:
        """The status answered: its records, and the final line after them."""
        status = [i for i, r in enumerate(replies) if r.record and r.record.get("node") == "shelf-01"]
        return bool(status) and any(r.kind != "data" for r in replies[status[0] :])

    replies = wire.until(answered, "answer to the status typed in pieces")
    refused = [r for r in replies if r.kind == "err"]
    assert refused and all(r.code in ("bad_line", "bad_crc", "unknown_command", "line_too_long") for r in refused)
    assert any(r.record and r.record.get("node") == "shelf-01" for r in replies), "status was not answered"
    assert replies[-1].kind == "ok"
    counters = {r["counter"]: int(r["count"]) for r in shelf.link().ask(["status"]) if "counter" in r}
    assert counters["diag_garbage"] >= 1


def test_an_overlong_line_is_refused_once_and_the_next_one_works(shelf: ConsoleNode) -> None:
    wire = Wire(shelf)
    wire.send(b"x" * 5000)
    wire.send(b"y" * 5000 + b"\n")
    assert wire.replies("@")[-1].code == "line_too_long"
    wire.send(encode_request("@ab", ["key"]))
    assert wire.replies("@ab")[-1].kind == "ok"
    wire.send(b"@ac key\n")
    assert wire.replies("@ac")[-1].code == "bad_crc", "a tagged request without its checksum"


def test_line_noise_both_ways_never_gives_a_wrong_answer(shelf: ConsoleNode) -> None:
    key = shelf.link().ask(["key"])
    rng = random.Random(11)

    def noisy(data: bytes) -> bytes:
        return bytes(b ^ (1 << rng.randrange(8)) if rng.random() < 0.003 else b for b in data)

    shelf.modem.noise_to_a = shelf.modem.noise_to_b = noisy
    link = shelf.link(timeout_s=1)
    answered = 0
    for _ in range(30):
        try:
            assert link.ask(["key"]) == key
            answered += 1
        except NoAnswer:
            pass
    shelf.modem.noise_to_a = shelf.modem.noise_to_b = lambda data: data
    assert answered >= 25, f"only {answered} of 30 answered through light noise"
    assert link.garbled > 0, "the noise never hit an answer: the test proves nothing"


def test_a_cable_cut_mid_command_is_answered_on_retry_without_running_it_twice(shelf: ConsoleNode) -> None:
    link = shelf.link()
    link.ask(["service", shelf.pin])
    wire = Wire(shelf)
    request = encode_request("@cut1", ["tare", "0"])
    wire.send(request)
    (progress,) = wire.replies("@cut1", first_only=True)
    assert progress.record and progress.record["collecting_s"] == "2"
    shelf.modem.cut = True
    wait_until(lambda: shelf.log().count(b"lane 0 tared") == 1, 10, "the tare done while the cable is cut")
    time.sleep(0.3)
    shelf.modem.cut = False
    wire.send(b"\n" + request)
    again = wire.replies("@cut1")
    assert [r.kind for r in again] == ["data", "data", "ok"], "the whole answer again, from the start"
    assert again[1].record and again[1].record["lane"] == "0"
    time.sleep(0.5)
    assert shelf.log().count(b"lane 0 tared") == 1, "the retry ran the tare again"


def test_pulling_the_port_mid_command_ends_service_mode_and_the_node_carries_on(shelf: ConsoleNode) -> None:
    link = shelf.link()
    link.ask(["service", shelf.pin])
    asked = threading.Thread(target=lambda: _ignore(lambda: shelf.link(timeout_s=1).ask(["tare", "all"])))
    asked.start()
    time.sleep(0.5)
    shelf.modem.pull(shelf.modem.a)
    wait_until(lambda: b"console port" in shelf.log() and b"lost" in shelf.log(), 10, "the node noticing its port gone")
    asked.join(10)
    shelf.modem.push(shelf.modem.a)
    wait_until(lambda: shelf.log().count(b"console on") >= 2, 10, "the console back on the new port")
    assert shelf.process.poll() is None
    assert _status(shelf)["service"] == "off"
    with pytest.raises(Refused) as refused:
        shelf.link().ask(["tare", "0"])
    assert refused.value.code == "needs_service"


def _ignore(ask: Callable[[], object]) -> None:
    """Ask, on a cable about to be pulled: whatever becomes of the answer."""
    with contextlib.suppress(NoAnswer, Refused, serial.SerialException, OSError):
        ask()


def test_guessed_pins_lock_the_console_and_a_restart_does_not_unlock_it(shelf: ConsoleNode) -> None:
    link = shelf.link()
    codes = []
    for guess in ("00000000", "11111111", "22222222", shelf.pin):
        try:
            link.ask(["service", guess])
            codes.append("ok")
        except Refused as refused:
            codes.append(refused.code)
    assert codes == ["wrong_pin", "wrong_pin", "wrong_pin", "locked_out"]
    shelf.restart()
    with pytest.raises(Refused) as refused:
        shelf.link().ask(["service", shelf.pin])
    assert refused.value.code == "locked_out"
    assert b"wrong service PIN (3 in a row)" in shelf.log()
    assert shelf.pin.encode() not in shelf.log()


def test_no_answer_shows_a_secret(shelf: ConsoleNode) -> None:
    node_dir = shelf.store.site.node_dir("shelf-01")
    secrets = [
        shelf.pin,
        (node_dir / "mqtt.pass").read_text().strip(),
        (node_dir / "service-pin.hash").read_text().strip(),
        base64.b64encode(bytes(load_signing_key(node_dir / "device.key"))).decode(),
        bytes(load_signing_key(node_dir / "device.key")).hex(),
    ]
    link = shelf.link()
    link.ask(["service", shelf.pin])
    said = []
    for record in link.ask(["help"]):
        words = str(record["command"]).split()
        if words[0] in ("service", "reboot", "tare", "calibrate"):
            continue
        try:
            said.append(repr(link.ask(words)))
        except Refused as refused:
            said.append(refused.text)
    said.append(repr(link.ask(["log", "200"])))
    said.append(repr(link.ask(["tare", "all"])))
    text = "\n".join(said)
    assert "fingerprint" in text and "SHA256:" in text
    for secret in secrets:
        assert secret not in text

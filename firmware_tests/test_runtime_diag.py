"""The console session: commands found and run, service mode asked for, retries answered
without running anything twice."""

from collections.abc import Iterator

import pytest

from edge.protocol.diag import DiagError, ErrorCode, Record, Reply, encode_request, parse_reply
from edge.runtime.diag import ConsoleSession, DiagCommand, DiagCommands
from edge.runtime.service_mode import ServiceMode

PIN = "27182818"


class Shelf:
    def __init__(self) -> None:
        self.tares = 0

    def tare(self, args: list[str]) -> Iterator[Record]:
        yield {"collecting_s": 2}
        self.tares += 1
        yield {"lane": int(args[0]), "zeroed": "yes"}

    def broken(self, args: list[str]) -> list[Record]:
        raise KeyError("oops")

    def moving(self, args: list[str]) -> list[Record]:
        raise DiagError(ErrorCode.FAILED, "lane 1 is not still")


@pytest.fixture
def shelf() -> Shelf:
    return Shelf()


@pytest.fixture
def session(shelf: Shelf) -> ConsoleSession:
    commands = DiagCommands()
    commands.add(
        DiagCommand("read", "", "lanes", lambda args: [{"lane": 0}, {"lane": 1}]),
        DiagCommand("tare", "LANE", "zero", shelf.tare, changes=True),
        DiagCommand("relay test", "", "pulse", lambda args: [{"relay": "pulsed"}], changes=True),
        DiagCommand("broken", "", "fails", shelf.broken),
        DiagCommand("moving", "", "refuses", shelf.moving),
    )
    service = ServiceMode(lambda pin: pin == PIN)
    service.started(0)
    return ConsoleSession(commands, service)


def ask(session: ConsoleSession, tag: str, *words: str, now: int = 0) -> list[Reply]:
    out = session.handle(encode_request(tag, list(words)).rstrip(b"\n"), now)
    replies = [parse_reply(line.rstrip(b"\n")) for line in out]
    assert all(reply is not None and reply.tag == tag for reply in replies)
    return replies  # type: ignore[return-value]


def test_a_command_answers_its_records_then_ok(session: ConsoleSession) -> None:
    assert ask(session, "@1", "read") == [
        Reply("@1", "data", {"lane": "0"}),
        Reply("@1", "data", {"lane": "1"}),
        Reply("@1", "ok"),
    ]


def test_two_word_commands_and_unknown_ones(session: ConsoleSession) -> None:
    assert ask(session, "@1", "relay", "test")[-1].code == "needs_service"
    assert ask(session, "@2", "relay")[-1].code == "unknown_command"
    assert ask(session, "@3", "fly")[-1].code == "unknown_command"


def test_changes_need_service_mode_and_run_in_it(session: ConsoleSession, shelf: Shelf) -> None:
    assert ask(session, "@1", "tare", "1")[-1].code == "needs_service"
    assert shelf.tares == 0
    assert ask(session, "@2", "service", PIN)[0].record == {"service": "on"}
    assert [r.kind for r in ask(session, "@3", "tare", "1")] == ["data", "data", "ok"]
    assert shelf.tares == 1
    assert ask(session, "@4", "service", "end")[0].record == {"service": "off"}
    assert ask(session, "@5", "tare", "1")[-1].code == "needs_service"


def test_a_retry_with_the_same_tag_is_answered_again_not_run_again(session: ConsoleSession, shelf: Shelf) -> None:
    ask(session, "@1", "service", PIN)
    first = ask(session, "@2", "tare", "1")
    assert ask(session, "@2", "tare", "1") == first
    assert shelf.tares == 1
    ask(session, "@3", "tare", "1")
    assert shelf.tares == 2, "a new tag is a new request"
    ask(session, "@3", "tare", "2")
    assert shelf.tares == 3, "the same tag with another line is a new request too"


def test_a_stray_line_between_a_request_and_its_retry_does_not_make_it_run_twice(
    session: ConsoleSession, shelf: Shelf
) -> None:
    ask(session, "@1", "service", PIN)
    first = ask(session, "@2", "tare", "1")
    list(session.handle(b"xq", 0))  # noise, ended by the retry's leading newline
    assert ask(session, "@2", "tare", "1") == first
    assert shelf.tares == 1


def test_untagged_requests_always_run(session: ConsoleSession, shelf: Shelf) -> None:
    ask(session, "@1", "service", PIN)
    for _ in range(2):
        list(session.handle(b"tare 1", 0))
    assert shelf.tares == 2


def test_a_garbled_request_runs_nothing_and_is_counted(session: ConsoleSession, shelf: Shelf) -> None:
    ask(session, "@1", "service", PIN)
    line = encode_request("@2", ["tare", "1"]).rstrip(b"\n").replace(b"tare 1", b"tare 3")
    (reply,) = [parse_reply(out.rstrip(b"\n")) for out in session.handle(line, 0)]
    assert reply is not None and (reply.tag, reply.kind, reply.code) == ("@2", "err", "bad_crc")
    assert shelf.tares == 0 and session.garbage == 1


def test_failures_are_answered_after_what_was_already_said(session: ConsoleSession) -> None:
    assert ask(session, "@1", "moving")[-1] == Reply("@1", "err", code="failed", text="lane 1 is not still")
    reply = ask(session, "@2", "broken")[-1]
    assert reply.code == "failed" and "KeyError" in reply.text and "oops" not in reply.text


def test_help_lists_every_command_and_which_need_service_mode(session: ConsoleSession) -> None:
    records = [r.record for r in ask(session, "@1", "help") if r.record]
    needed = {str(r["command"]) for r in records if r["service"] == "needed"}
    assert needed == {"tare", "relay test"}
    assert {"help", "service", "read", "broken"} <= {str(r["command"]) for r in records}


def test_wrong_pins_are_refused_and_empty_lines_ignored(session: ConsoleSession) -> None:
    assert ask(session, "@1", "service", "00000000")[-1].code == "wrong_pin"
    assert session.service.failures == 1
    assert list(session.handle(b"", 0)) == []
    assert list(session.handle(b"   ", 0)) == []


def test_a_command_name_cannot_be_taken_twice() -> None:
    commands = DiagCommands()
    commands.add(DiagCommand("read", "", "", lambda args: []))
    with pytest.raises(ValueError):
        commands.add(DiagCommand("read", "", "", lambda args: []))
    with pytest.raises(ValueError):
        commands.add(DiagCommand("service", "", "", lambda args: []))

"""The diagnostics console's commands and its session: request lines in, answer lines out.
The session holds no I/O of its own (it logs a command that fails unexpectedly); what the
commands read or do is theirs, and the port is console.py's.

Every node has the common commands (node_diag.py); each role app adds its own (`read`,
`tare`, `relay test`, ...). A command that changes something runs only in service mode,
and the `service` command that enters it is the session's own.
"""

import hashlib
import logging
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from edge.protocol.diag import (
    DiagError,
    ErrorCode,
    Record,
    Request,
    data_line,
    err_line,
    ok_line,
    parse_request,
    tag_of,
)
from edge.runtime.service_mode import ServiceMode

log = logging.getLogger(__name__)

Run = Callable[[list[str]], Iterable[Record]]


@dataclass(frozen=True, slots=True)
class DiagCommand:
    name: str  # one or two words: "status", "relay test"
    args: str  # for help: "LANE GRAMS"
    about: str
    run: Run  # the arguments after the name in, records out; DiagError to refuse or fail
    changes: bool = False  # changes the node or moves hardware: service mode only


def no_args(args: list[str], usage: str) -> None:
    """For commands that take no arguments."""
    if args:
        raise DiagError(ErrorCode.BAD_ARGS, f"usage: {usage}")


class DiagCommands:
    """The commands a node's console offers; role apps add theirs as they start."""

    def __init__(self) -> None:
        self._commands: dict[str, DiagCommand] = {}

    def add(self, *commands: DiagCommand) -> None:
        for command in commands:
            if command.name in self._commands or command.name.split()[0] == "service":
                raise ValueError(f"the console already has a {command.name!r} command")
            self._commands = {**self._commands, command.name: command}  # replaced whole: readers need no lock

    def find(self, words: tuple[str, ...]) -> tuple[DiagCommand, list[str]] | None:
        for length in (2, 1):
            command = self._commands.get(" ".join(words[:length]))
            if command is not None and len(words) >= length:
                return command, list(words[length:])
        return None

    def __iter__(self) -> Iterator[DiagCommand]:
        return iter(sorted(self._commands.values(), key=lambda c: c.name))


class ConsoleSession:
    """One console's state: service mode, and the last tagged answer for retries."""

    def __init__(self, commands: DiagCommands, service: ServiceMode) -> None:
        self.commands = commands
        self.service = service
        self._last: tuple[str, bytes] | None = None  # (tag, keyed digest of the request line)
        self._salt = secrets.token_bytes(16)  # so that the digest of `service <PIN>` gives no PIN away
        self._last_answer: list[bytes] = []
        self.garbage = 0  # lines refused before they were read as a request

    def handle(self, line: bytes, now_ms: int) -> Iterator[bytes]:
        """Answer one request line, line by line as the command produces them."""
        try:
            request = parse_request(line)
        except DiagError as error:
            self.garbage += 1
            yield err_line(tag_of(line), error.code, error.text)
            return
        if not request.words:
            return
        if request.tag == "@":  # typed by a person: run every time, and forget no retry
            yield from self._run(request, now_ms)
            return
        key = (request.tag, hashlib.blake2b(request.line.encode(), key=self._salt).digest())
        if key == self._last:
            yield from self._last_answer
            return
        answer: list[bytes] = []
        self._last = None
        for out in self._run(request, now_ms):
            answer.append(out)
            yield out
        self._last, self._last_answer = key, answer

    def _run(self, request: Request, now_ms: int) -> Iterator[bytes]:
        tag = request.tag
        try:
            for record in self._records(request, now_ms):
                yield data_line(tag, record)
        except DiagError as error:
            yield err_line(tag, error.code, error.text)
            return
        except Exception as error:
            log.exception("console command %r failed", request.words[0])
            yield err_line(tag, ErrorCode.FAILED, f"internal error ({type(error).__name__}); see `log`")
            return
        yield ok_line(tag)

    def _records(self, request: Request, now_ms: int) -> Iterable[Record]:
        words = request.words
        if words[0] == "service":
            return self._service(list(words[1:]), now_ms)
        if words == ("help",):
            return self._help()
        found = self.commands.find(words)
        if found is None:
            raise DiagError(ErrorCode.UNKNOWN_COMMAND, f"no command {words[0]!r} here; `help` lists them")
        command, args = found
        if command.changes and not self.service.active(now_ms):
            raise DiagError(ErrorCode.NEEDS_SERVICE, f"`{command.name}` changes the node: `service PIN` first")
        self.service.used(now_ms)
        return command.run(args)

    def _service(self, args: list[str], now_ms: int) -> list[Record]:
        if args == ["end"]:
            self.service.leave()
        elif len(args) == 1:
            self.service.enter(args[0], now_ms)
        elif args:
            raise DiagError(ErrorCode.BAD_ARGS, "usage: service [PIN | end]")
        return [{"service": "on" if self.service.active(now_ms) else "off"}]

    def _help(self) -> list[Record]:
        builtin: list[Record] = [
            {"command": "help", "args": "", "service": "no", "about": "these commands"},
            {"command": "service", "args": "[PIN|end]", "service": "no", "about": "enter, leave or show service mode"},
        ]
        return builtin + [
            {"command": c.name, "args": c.args, "service": "needed" if c.changes else "no", "about": c.about}
            for c in self.commands
        ]

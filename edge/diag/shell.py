"""storediag's interactive shell: the node's commands with completion and a history kept
between sessions (never a PIN: `service` asks for it without echo, and a PIN typed on the
line is taken out of the history)."""

import cmd
import getpass
import os
import shlex
from pathlib import Path

from edge.diag.link import NoAnswer, Refused
from edge.diag.render import render
from edge.diag.target import Target
from edge.diag.watch import watch
from edge.protocol.diag import ErrorCode

try:
    import readline
except ImportError:  # not on every platform; the shell works without history then
    readline = None  # type: ignore[assignment]

HISTORY = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "storediag" / "history"


class Shell(cmd.Cmd):
    def __init__(self, target: Target, port: str) -> None:
        super().__init__()
        self.target = target
        self.port = port
        self.prompt = f"{target.kind} {port}> "
        self.intro = f"storediag: a {target.kind} on {port}. `help` lists commands, `watch` a live view, Ctrl-D leaves."
        self._serviced = False
        try:
            self._commands = [str(record["command"]) for record in target.ask(["help"])]
        except (NoAnswer, Refused):
            self._commands = []

    def preloop(self) -> None:
        if readline is not None and HISTORY.exists():
            readline.read_history_file(HISTORY)

    def postloop(self) -> None:
        if self._serviced:
            self._ask(["service", "end"])
        if readline is not None:
            HISTORY.parent.mkdir(parents=True, exist_ok=True)
            readline.set_history_length(1000)
            readline.write_history_file(HISTORY)

    def onecmd(self, line: str) -> bool:
        """Every line goes to the node, except the shell's own: watch, service, quit."""
        if line == "EOF":
            print()
            return True
        try:
            words = shlex.split(line)
        except ValueError as error:
            print(f"cannot read that line: {error}")
            return False
        if not words:
            return False
        if words in (["quit"], ["exit"]):
            return True
        if words[0] == "watch":
            self._watch(words[1:])
        elif words[0] == "service" and words[1:] != ["end"]:
            self._service(words[1:])
        else:
            self._ask(words)
        return False

    def completenames(self, text: str, *ignored: object) -> list[str]:
        names = sorted({c.split()[0] for c in self._commands} | {"watch", "quit"})
        return [name for name in names if name.startswith(text)]

    def _ask(self, words: list[str]) -> None:
        try:
            print("\n".join(render(self.target.ask(words))))
        except Refused as refused:
            hint = "  (`service` enters service mode)" if refused.code == ErrorCode.NEEDS_SERVICE else ""
            print(f"refused: {refused.code}: {refused.text}{hint}")
        except NoAnswer as error:
            print(f"no answer from {self.port}: {error}")

    def _service(self, args: list[str]) -> None:
        if args and readline is not None:  # a PIN typed on the line: not kept in the history
            readline.remove_history_item(readline.get_current_history_length() - 1)
        pin = args[0] if args else getpass.getpass("service PIN: ")
        try:
            self.target.ask(["service", pin])
            self._serviced = True
            print("service mode on; `service end` leaves it (it also ends after 10 idle minutes)")
        except Refused as refused:
            print(f"refused: {refused.code}: {refused.text}")
        except NoAnswer as error:
            print(f"no answer from {self.port}: {error}")

    def _watch(self, words: list[str]) -> None:
        try:
            watch(self.target, words or ["read"], 0.5, None, self.port)
        except KeyboardInterrupt:
            print()
        except Refused as refused:
            print(f"refused: {refused.code}: {refused.text}")

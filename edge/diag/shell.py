"""storediag's interactive shell: the node's commands with completion and a history kept
between sessions (never a PIN: `service` asks for it without echo, and a PIN typed on the
line is taken out of the history).

In service mode the shell sends a bare newline every KEEPALIVE_S while the technician types
nothing: a node leaves service mode after SILENCE_MS of silence on its console, which is
how it finds out that a cable was pulled from its header UART. A port that goes away (the
laptop's USB adapter pulled) is waited for, and the shell goes on once it is back.
"""

import cmd
import contextlib
import getpass
import os
import shlex
import threading
from pathlib import Path

from edge.diag.link import NoAnswer, Refused
from edge.diag.render import render
from edge.diag.target import Connection, PortLost
from edge.diag.watch import watch
from edge.protocol.diag import ErrorCode
from edge.runtime.service_mode import SILENCE_MS

try:
    import readline
except ImportError:  # not on every platform; the shell works without history then
    readline = None  # type: ignore[assignment]

HISTORY = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "storediag" / "history"
KEEPALIVE_S = SILENCE_MS / 1000 / 3  # one may be lost on a noisy line and the next still comes in time


class Shell(cmd.Cmd):
    def __init__(self, target: Connection, port: str) -> None:
        super().__init__()
        self.target = target
        self.port = port
        self._closing = threading.Event()
        self._keepalive = threading.Thread(target=self._keep_alive, name="keepalive", daemon=True)
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
        self._keepalive.start()

    def postloop(self) -> None:
        self._closing.set()
        if self._serviced:
            # Best effort, and no waiting for a pulled port: a silent node leaves it by itself.
            with contextlib.suppress(NoAnswer, Refused, PortLost):
                print("\n".join(render(self.target.ask(["service", "end"]))))
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

    def _keep_alive(self) -> None:
        while not self._closing.wait(KEEPALIVE_S):
            if self._serviced:
                self.target.keepalive()

    def _ask(self, words: list[str]) -> None:
        try:
            print("\n".join(render(self.target.ask(words))))
        except Refused as refused:
            hint = "  (`service` enters service mode)" if refused.code == ErrorCode.NEEDS_SERVICE else ""
            print(f"refused: {refused.code}: {refused.text}{hint}")
        except NoAnswer as error:
            print(f"no answer from {self.port}: {error}")
        except PortLost as lost:
            self._wait_back(lost)

    def _wait_back(self, lost: PortLost) -> None:
        """The command's answer, if it ran at all, is lost with the port: it is not asked again."""
        print(f"{lost}: waiting for it to come back (Ctrl-C stops waiting)")
        try:
            self.target.wait_back()
        except KeyboardInterrupt:
            print("\nstopped waiting; the next command looks for the port again")
            return
        print(f"{self.port} is back: a {self.target.kind}")
        if self._serviced:  # kept if the node heard from us again within its silence
            self._ask(["service"])

    def _service(self, args: list[str]) -> None:
        if args and readline is not None:  # a PIN typed on the line: not kept in the history
            readline.remove_history_item(readline.get_current_history_length() - 1)
        pin = args[0] if args else getpass.getpass("service PIN: ")
        try:
            self.target.ask(["service", pin])
            self._serviced = True
            print(
                "service mode on; `service end` leaves it (it also ends after 10 minutes without a command, "
                "and a minute after the cable is pulled)"
            )
        except Refused as refused:
            print(f"refused: {refused.code}: {refused.text}")
        except NoAnswer as error:
            print(f"no answer from {self.port}: {error}")
        except PortLost as lost:
            self._wait_back(lost)

    def _watch(self, words: list[str]) -> None:
        try:
            watch(self.target, words or ["read"], 0.5, None, self.port)
        except KeyboardInterrupt:
            print()
        except Refused as refused:
            print(f"refused: {refused.code}: {refused.text}")

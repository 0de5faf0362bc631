"""State a node keeps across restarts outside its spool: the boot counter and the newest
gateway command seen. It lives in its own small file so that a spool quarantined after
corruption never resets the boot counter (the gateway would take new messages for replays)."""

import json
from dataclasses import dataclass
from pathlib import Path

from edge.protocol.filemodes import PRIVATE_FILE, make_dir
from edge.protocol.keys import write_file_atomic


class BootStateError(Exception):
    """The boot state file exists but cannot be read or parsed."""


@dataclass(frozen=True, slots=True)
class BootState:
    boot: int
    command_boot: int
    command_seq: int


class BootStateFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> BootState:
        try:
            raw = json.loads(self.path.read_text())
            return BootState(int(raw["boot"]), int(raw.get("command_boot", 0)), int(raw.get("command_seq", 0)))
        except FileNotFoundError:
            return BootState(0, 0, 0)
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise BootStateError(
                f"{self.path}: boot state unreadable ({error.__class__.__name__}); fix or remove it "
                "(a node without boot state learns its boot from the gateway before it sends)"
            ) from None

    def write(self, state: BootState) -> None:
        """Durably: the rename must survive power loss, or a reboot could reuse a boot number."""
        make_dir(self.path.parent)
        document = {"boot": state.boot, "command_boot": state.command_boot, "command_seq": state.command_seq}
        write_file_atomic(self.path, json.dumps(document).encode(), PRIVATE_FILE)

    def exists(self) -> bool:
        """Whether this node has boot state at all (a new or wiped card has none)."""
        return self.path.exists()

    def next_boot(self, last_elsewhere: int = 0) -> BootState:
        """Count this start: persist the boot past both the stored one and `last_elsewhere` (the
        newest the gateway journaled, which a restored or new card may be behind), before any
        message of the new boot exists."""
        current = self.read()
        started = BootState(max(current.boot, last_elsewhere) + 1, current.command_boot, current.command_seq)
        self.write(started)
        return started

"""State a node keeps across restarts outside its spool: the boot counter and the newest
gateway command seen. It lives in its own small file so that a spool quarantined after
corruption never resets the boot counter (the gateway would take new messages for replays)."""

import json
import os
from dataclasses import dataclass
from pathlib import Path


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
                f"{self.path}: boot state unreadable ({error.__class__.__name__}); fix or remove it, "
                "and the node's boot counter must then exceed the last one the gateway saw"
            ) from None

    def write(self, state: BootState) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w") as handle:
            json.dump(
                {"boot": state.boot, "command_boot": state.command_boot, "command_seq": state.command_seq}, handle
            )
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
        # The rename itself must survive power loss, or a reboot could reuse a boot number.
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def next_boot(self) -> BootState:
        """Count this start: persist boot + 1 before any message of the new boot exists."""
        current = self.read()
        started = BootState(current.boot + 1, current.command_boot, current.command_seq)
        self.write(started)
        return started

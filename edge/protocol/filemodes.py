"""Who may read what a site, a node and upstream write: nobody else, and the group only what
a service running as another user must read (Mosquitto, started as root, drops to its
`user` and rereads its config, passwords and ACL on every reload).

Modes are set when a file or folder is made, never left to the umask: SQLite alone would
make a database 0644, and its -wal and -shm files take the database's mode.
"""

import contextlib
import os
from pathlib import Path
from typing import Final

PRIVATE_FILE: Final = 0o600
PRIVATE_DIR: Final = 0o700
# Mosquitto's files and the folders down to them: its group reads, nobody else.
SHARED_FILE: Final = 0o640
SHARED_DIR: Final = 0o750


def make_dir(path: Path, mode: int = PRIVATE_DIR) -> None:
    """Make `path` and any missing parents with exactly `mode`. Folders that exist keep
    theirs: they may be someone else's (a home, /var/lib)."""
    missing: list[Path] = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        folder.mkdir(mode, exist_ok=True)
        os.chmod(folder, mode)  # the umask narrowed mkdir's mode; a group that must read keeps its bits


def prepare_private_db(path: Path) -> None:
    """Make a database's folder, and its file empty and 0600 unless it exists, before SQLite
    opens it, so the database and the -wal, -shm and -journal files SQLite gives its mode are
    private from their first byte. An existing file keeps its mode."""
    make_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))

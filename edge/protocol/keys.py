"""Key files: Ed25519 signing keys, X25519 sealing keys, their public halves and fingerprints,
and secret-box keys (symmetric, for data at rest).

A private key file holds the base64 of the 32-byte seed on one line, mode 0600; it is
refused when others may read it, as ssh does. Public key files hold the base64 of the
32-byte public key, also 0600: nothing in a site, a node or upstream is for others
(edge.protocol.filemodes). Nothing here ever prints or logs a private key.
"""

import base64
import binascii
import hashlib
import os
import stat
from pathlib import Path

from nacl.public import PrivateKey, PublicKey
from nacl.secret import SecretBox
from nacl.signing import SigningKey, VerifyKey
from nacl.utils import random as random_bytes

from edge.protocol.filemodes import PRIVATE_FILE, make_dir


class KeyFileError(Exception):
    """A key file that is missing, unreadable, too open or malformed."""


def fingerprint(public_key: bytes) -> str:
    digest = hashlib.sha256(public_key).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def encode_key(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def decode_key(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyFileError(f"{what} is not base64") from None
    if len(raw) != 32:
        raise KeyFileError(f"{what} holds {len(raw)} bytes, a key has 32")
    return raw


def write_file_atomic(path: Path, data: bytes, mode: int) -> None:
    """Write `data` with `mode` from its first byte (a secret is never briefly readable by
    others), synced, then renamed over `path` and the rename synced too: a crash or a power
    cut leaves the old file or the new one, never half of either, and never the old one
    after the call has returned."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    os.fchmod(fd, mode)  # exactly `mode`: the umask may have taken a group's read that a service needs
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def write_secret_file(path: Path, text: str, overwrite: bool = True) -> None:
    """Write a secret 0600 from its first byte, never briefly readable by others; atomic."""
    make_dir(path.parent)
    if path.exists() and not overwrite:
        raise KeyFileError(f"{path} exists; refusing to replace a key")
    write_file_atomic(path, (text + "\n").encode(), PRIVATE_FILE)


def write_public(path: Path, raw: bytes) -> None:
    make_dir(path.parent)
    write_file_atomic(path, (encode_key(raw) + "\n").encode(), PRIVATE_FILE)


def _read(path: Path, private: bool) -> bytes:
    what = f"{'private' if private else 'public'} key file {path}"
    try:
        if path.is_dir():
            raise KeyFileError(f"{what} is a directory")
        if private:
            mode = path.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise KeyFileError(f"{what} is open to others (mode {stat.S_IMODE(mode):04o}); run chmod 600 {path}")
        text = path.read_text()
    except FileNotFoundError:
        raise KeyFileError(f"{what} does not exist") from None
    except (PermissionError, IsADirectoryError, UnicodeDecodeError) as error:
        raise KeyFileError(f"{what} cannot be read: {error.__class__.__name__}") from None
    return decode_key(text, what)


def generate_signing_key(path: Path, overwrite: bool = False) -> VerifyKey:
    """Make an Ed25519 key at `path` (0600) and its public half at `path.pub`."""
    key = SigningKey.generate()
    write_secret_file(path, encode_key(bytes(key)), overwrite)
    write_public(public_path(path), bytes(key.verify_key))
    return key.verify_key


def generate_sealing_key(path: Path, overwrite: bool = False) -> PublicKey:
    """Make an X25519 key at `path` (0600) and its public half at `path.pub`."""
    key = PrivateKey.generate()
    write_secret_file(path, encode_key(bytes(key)), overwrite)
    write_public(public_path(path), bytes(key.public_key))
    return key.public_key


def generate_box_key(path: Path, overwrite: bool = False) -> None:
    """Make a secret-box key at `path` (0600); it has no public half."""
    write_secret_file(path, encode_key(random_bytes(SecretBox.KEY_SIZE)), overwrite)


def public_path(private_path: Path) -> Path:
    return private_path.with_name(private_path.name + ".pub")


def load_signing_key(path: Path) -> SigningKey:
    return SigningKey(_read(path, private=True))


def load_sealing_key(path: Path) -> PrivateKey:
    return PrivateKey(_read(path, private=True))


def load_public_bytes(path: Path) -> bytes:
    return _read(path, private=False)


def load_verify_key(path: Path) -> VerifyKey:
    return VerifyKey(load_public_bytes(path))


def load_public_key(path: Path) -> PublicKey:
    return PublicKey(load_public_bytes(path))


def load_box(path: Path) -> SecretBox:
    return SecretBox(_read(path, private=True))

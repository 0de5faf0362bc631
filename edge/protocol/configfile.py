"""Config-file conventions shared by every part: TOML decoded strictly into msgspec structs,
errors that name the file and the key, paths relative to the file, broker settings, and the
id and port rules that provisioning checks before it writes a file."""

import re
from pathlib import Path
from typing import Annotated, TypeVar

import msgspec
from msgspec import Meta

# Ids become topic segments, broker usernames and directory names; a leading '-' would read
# as an option to every command that is given the id. Provisioning and every schema share it.
_ID = r"[a-z0-9][a-z0-9-]{0,63}"
NodeId = Annotated[str, Meta(pattern=rf"^{_ID}\Z")]

S = TypeVar("S", bound=msgspec.Struct)


class ConfigError(Exception):
    """A config file that is missing, unreadable, not TOML, or does not match the schema."""


class Section(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A config table: unknown keys are refused, so a typo is an error, not a silent default."""


class BrokerConfig(Section, frozen=True):
    host: str = "127.0.0.1"
    port: Annotated[int, Meta(ge=1, le=65535)] = 1883
    password_file: str | None = None
    keepalive_s: Annotated[int, Meta(ge=5, le=3600)] = 15
    reconnect_min_s: Annotated[int, Meta(ge=1, le=60)] = 1
    reconnect_max_s: Annotated[int, Meta(ge=1, le=3600)] = 60


def id_refusal(kind: str, value: str) -> str | None:
    """Why provisioning refuses `value` as a `kind` ("node id", "store id"), or None: what a
    NodeId in any config file accepts, checked before anything is written."""
    if re.fullmatch(_ID, value):
        return None
    return f"{kind} {value!r} must be 1-64 characters of a-z, 0-9 and '-', starting with a letter or digit"


def port_refusal(port: int) -> str | None:
    """Why a broker port is refused, or None: one no broker can listen on would otherwise be
    refused only when the service that uses it starts."""
    if 1 <= port <= 65535:
        return None
    return f"broker port {port} is not a TCP port (1-65535)"


def read_toml(path: Path, schema: type[S]) -> S:
    """Decode `path` into `schema`, raising ConfigError with the file and the offending key."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read config: {error.strerror or error}") from None
    try:
        return msgspec.toml.decode(data, type=schema)
    except msgspec.ValidationError as error:
        raise ConfigError(f"{path}: {error}") from None
    except msgspec.DecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text: {error.reason} at byte {error.start}") from None


def resolve(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base / path)


def read_password(base: Path, password_file: str | None) -> str | None:
    """A broker password from its file (relative to `base`), or None when none is set."""
    if password_file is None:
        return None
    path = resolve(base, password_file)
    try:
        return path.read_text().strip()
    except OSError as error:
        raise ConfigError(f"broker password file {path} cannot be read: {error.strerror or error}") from None

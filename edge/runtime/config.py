"""Node configuration from TOML, validated strictly, with relative paths resolved against the file."""

from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from edge.protocol.roles import DEVICE_ROLES, Role

NodeId = Annotated[str, Meta(pattern=r"^[a-z0-9-]{1,64}\Z")]


class ConfigError(Exception):
    """A config file that is missing, unreadable, not TOML, or does not match the schema."""


class _Section(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    pass


class BrokerConfig(_Section, frozen=True):
    host: str = "127.0.0.1"
    port: Annotated[int, Meta(ge=1, le=65535)] = 1883
    password_file: str | None = None
    keepalive_s: Annotated[int, Meta(ge=5, le=3600)] = 15
    reconnect_min_s: Annotated[int, Meta(ge=1, le=60)] = 1
    reconnect_max_s: Annotated[int, Meta(ge=1, le=3600)] = 60


class KeysConfig(_Section, frozen=True):
    device: str
    gateway: str
    upstream_sign: str | None = None
    upstream_seal: str | None = None


class GatewayPeer(_Section, frozen=True):
    id: NodeId = "gateway"


class HealthConfig(_Section, frozen=True):
    interval_s: Annotated[int, Meta(ge=1, le=3600)] = 30


class SpoolConfig(_Section, frozen=True):
    sync: Literal["full", "normal"] = "full"
    max_inflight: Annotated[int, Meta(ge=1, le=10000)] = 200


class HardwareConfig(_Section, frozen=True):
    backend: NodeId = "sim"


class NodeConfig(_Section, frozen=True):
    node: NodeId
    role: Role
    store: NodeId
    keys: KeysConfig
    state_dir: str = "state"
    broker: BrokerConfig = BrokerConfig()
    gateway: GatewayPeer = GatewayPeer()
    health: HealthConfig = HealthConfig()
    spool: SpoolConfig = SpoolConfig()
    hardware: HardwareConfig = HardwareConfig()


def read_toml(path: Path, schema: type[msgspec.Struct]) -> msgspec.Struct:
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


def load_node_config(path: Path) -> tuple[NodeConfig, Path]:
    """Return the config and the directory its relative paths are resolved against."""
    config = read_toml(path, NodeConfig)
    assert isinstance(config, NodeConfig)
    if config.role not in DEVICE_ROLES:
        raise ConfigError(f"{path}: role {config.role!r} is not a node role ({', '.join(DEVICE_ROLES)})")
    return config, path.resolve().parent

"""Node configuration from TOML, validated strictly, with relative paths resolved against the file."""

from pathlib import Path
from typing import Annotated, Literal

from msgspec import Meta

from edge.protocol.configfile import BrokerConfig, ConfigError, NodeId, Section, read_toml
from edge.protocol.roles import DEVICE_ROLES, Role


class KeysConfig(Section, frozen=True):
    device: str
    gateway: str
    upstream_sign: str | None = None
    upstream_seal: str | None = None


class GatewayPeer(Section, frozen=True):
    id: NodeId = "gateway"


class HealthConfig(Section, frozen=True):
    interval_s: Annotated[int, Meta(ge=1, le=3600)] = 30


class SpoolConfig(Section, frozen=True):
    sync: Literal["full", "normal"] = "full"
    max_inflight: Annotated[int, Meta(ge=1, le=10000)] = 200


class HardwareConfig(Section, frozen=True):
    backend: NodeId


class NodeConfig(Section, frozen=True):
    node: NodeId
    role: Role
    store: NodeId
    keys: KeysConfig
    hardware: HardwareConfig
    state_dir: str = "state"
    broker: BrokerConfig = BrokerConfig()
    gateway: GatewayPeer = GatewayPeer()
    health: HealthConfig = HealthConfig()
    spool: SpoolConfig = SpoolConfig()


def load_node_config(path: Path) -> tuple[NodeConfig, Path]:
    """Return the config and the directory its relative paths are resolved against."""
    config = read_toml(path, NodeConfig)
    if config.role not in DEVICE_ROLES:
        raise ConfigError(f"{path}: role {config.role!r} is not a node role ({', '.join(DEVICE_ROLES)})")
    return config, path.resolve().parent

"""Node configuration from TOML, validated strictly, with relative paths resolved against the file."""

from pathlib import Path
from typing import Annotated, Literal

import msgspec
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
    # gpio: one HX711 per lane, each on its own clock and data pins (BCM numbers), by lane
    dout_pins: list[Annotated[int, Meta(ge=0, le=40)]] = []
    sck_pins: list[Annotated[int, Meta(ge=0, le=40)]] = []
    # mcu: the RP2040 board's serial port (a stable udev name, e.g. /dev/serial/by-id/...)
    port: str | None = None
    # sim: the seed of the simulated shoppers
    seed: int = 0


class ShelfConfig(Section, frozen=True):
    """A shelf node's lanes and detector settings."""

    id: NodeId
    lanes: Annotated[list[Annotated[int, Meta(ge=0, le=1023)]], Meta(min_length=1, max_length=64)] = msgspec.field(
        default_factory=lambda: [0, 1, 2, 3]
    )
    rate_sps: Literal[10, 80] = 10
    noise_mg: Annotated[int, Meta(ge=1, le=1_000_000)] = 1_000
    min_delta_mg: Annotated[int, Meta(ge=1, le=100_000_000)] = 8_000
    drift_limit_mg: Annotated[int, Meta(ge=1, le=100_000_000)] = 50_000
    telemetry_interval_s: Annotated[int, Meta(ge=1, le=3600)] = 60


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
    shelf: ShelfConfig | None = None


def load_node_config(path: Path) -> tuple[NodeConfig, Path]:
    """Return the config and the directory its relative paths are resolved against."""
    config = read_toml(path, NodeConfig)
    if config.role not in DEVICE_ROLES:
        raise ConfigError(f"{path}: role {config.role!r} is not a node role ({', '.join(DEVICE_ROLES)})")
    return config, path.resolve().parent

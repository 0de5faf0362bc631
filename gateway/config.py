"""Gateway configuration from TOML, with relative paths resolved against the file."""

from pathlib import Path
from typing import Annotated, Literal

from msgspec import Meta

from edge.protocol.configfile import BrokerConfig, ConfigError, NodeId, Section, read_toml


class GatewayKeys(Section, frozen=True):
    gateway: str
    upstream_sign: str | None = None


class IngestConfig(Section, frozen=True):
    batch_max: Annotated[int, Meta(ge=1, le=10000)] = 500
    dedupe_window: Annotated[int, Meta(ge=1, le=1_000_000)] = 1024
    journal_sync: Literal["full", "normal"] = "full"


class OperatorConfig(Section, frozen=True):
    state_interval_s: Annotated[int, Meta(ge=1, le=3600)] = 10
    alert_interval_s: Annotated[int, Meta(ge=0, le=3600)] = 10
    stall_after_s: Annotated[int, Meta(ge=1, le=3600)] = 5


class GatewayConfig(Section, frozen=True):
    store: NodeId
    keys: GatewayKeys
    id: NodeId = "gateway"
    registry: str = "registry.toml"
    journal: str = "state/journal.db"
    broker: BrokerConfig = BrokerConfig()
    ingest: IngestConfig = IngestConfig()
    operator: OperatorConfig = OperatorConfig()


def load_gateway_config(path: Path) -> tuple[GatewayConfig, Path]:
    config = read_toml(path, GatewayConfig)
    return config, path.resolve().parent


__all__ = ["ConfigError", "GatewayConfig", "load_gateway_config"]

"""Gateway configuration from TOML, with relative paths resolved against the file."""

from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from edge.runtime.config import BrokerConfig, ConfigError, NodeId, read_toml


class _Section(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    pass


class GatewayKeys(_Section, frozen=True):
    gateway: str
    upstream_sign: str | None = None


class IngestConfig(_Section, frozen=True):
    batch_max: Annotated[int, Meta(ge=1, le=10000)] = 500
    dedupe_window: Annotated[int, Meta(ge=1, le=1_000_000)] = 1024
    journal_sync: Literal["full", "normal"] = "full"


class OperatorConfig(_Section, frozen=True):
    state_interval_s: Annotated[int, Meta(ge=1, le=3600)] = 10
    alert_interval_s: Annotated[int, Meta(ge=0, le=3600)] = 10


class GatewayConfig(_Section, frozen=True):
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
    assert isinstance(config, GatewayConfig)
    return config, path.resolve().parent


__all__ = ["ConfigError", "GatewayConfig", "load_gateway_config"]

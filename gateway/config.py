"""Gateway configuration from TOML, with relative paths resolved against the file."""

from pathlib import Path
from typing import Annotated, Literal

from msgspec import Meta

from edge.protocol.configfile import BrokerConfig, ConfigError, NodeId, Section, read_toml


class GatewayKeys(Section, frozen=True):
    gateway: str
    upstream_sign: str  # upstream's public key: its decisions and the QR tokens it issued


class UpstreamBridge(Section, frozen=True):
    """Where upstream's broker is and as whom the store's bridge logs in: the kit upstream
    hands a store's installer holds exactly these."""

    host: str
    port: Annotated[int, Meta(ge=1, le=65535)]
    username: NodeId
    id: NodeId = "upstream"  # the `dev` upstream's decisions carry


class UpstreamLink(UpstreamBridge, frozen=True):
    password_file: str | None = None
    # A palm with no decision by then is denied; below the gate's own authorise_ms (3 s),
    # so the shopper hears why.
    decision_timeout_ms: Annotated[int, Meta(ge=200, le=30_000)] = 2_500


class IngestConfig(Section, frozen=True):
    batch_max: Annotated[int, Meta(ge=1, le=10000)] = 500
    dedupe_window: Annotated[int, Meta(ge=1, le=1_000_000)] = 1024
    journal_sync: Literal["full", "normal"] = "full"


class OperatorConfig(Section, frozen=True):
    state_interval_s: Annotated[int, Meta(ge=1, le=3600)] = 10
    alert_interval_s: Annotated[int, Meta(ge=0, le=3600)] = 10
    stall_after_s: Annotated[int, Meta(ge=1, le=3600)] = 5
    # a node that says online but sends nothing, not even health, for this long is `silent`
    silent_after_s: Annotated[int, Meta(ge=10, le=86_400)] = 120
    spool_alert: Annotated[int, Meta(ge=1, le=10_000_000)] = 100  # unsent events a growing spool alerts from
    review_keep_h: Annotated[int, Meta(ge=1, le=24 * 30)] = 24  # how long a receipt for review stays listed
    discovery_prefix: str = "homeassistant"  # Home Assistant's MQTT discovery prefix


class GatewayConfig(Section, frozen=True):
    store: NodeId
    keys: GatewayKeys
    id: NodeId = "gateway"
    registry: str = "registry.toml"
    journal: str = "state/journal.db"
    access: str = "state/access.db"
    layout: str | None = None  # the store layout (TOML); with it, the gateway fuses carts and sends receipts
    upstream: UpstreamLink | None = None  # without it, palm entry is refused and QR still works
    broker: BrokerConfig = BrokerConfig()
    ingest: IngestConfig = IngestConfig()
    operator: OperatorConfig = OperatorConfig()


def load_gateway_config(path: Path) -> tuple[GatewayConfig, Path]:
    config = read_toml(path, GatewayConfig)
    return config, path.resolve().parent


__all__ = ["ConfigError", "GatewayConfig", "load_gateway_config"]

"""The reference upstream's configuration from TOML, with relative paths resolved against the file."""

from pathlib import Path
from typing import Annotated

from msgspec import Meta

from edge.protocol.configfile import BrokerConfig, ConfigError, NodeId, Section, read_toml


class UpstreamKeys(Section, frozen=True):
    sign: str = "keys/upstream-sign.key"  # Ed25519: decisions and QR tokens
    seal: str = "keys/upstream-seal.key"  # X25519: opens the gates' sealed palm payloads
    vault: str = "keys/vault.key"  # SecretBox: templates at rest


class PalmPolicy(Section, frozen=True):
    # A probe matches when its distance is below this; 0.230 lets through 0.5 % of strangers
    # searched against 10,000 enrolments (docs/BENCHMARKS.md, palm).
    match_below_pm: Annotated[int, Meta(ge=1, le=1000)] = 230
    min_quality_pm: Annotated[int, Meta(ge=0, le=1000)] = 300
    min_live_pm: Annotated[int, Meta(ge=0, le=1000)] = 500
    purge_after_days: Annotated[int, Meta(ge=1, le=3650)] = 365  # enrolments unused this long are deleted


class UpstreamConfig(Section, frozen=True):
    id: NodeId = "upstream"
    vault: str = "state/vault.db"
    receipts: str = "state/receipts.db"
    state_dir: str = "state"
    broker: BrokerConfig = BrokerConfig()
    keys: UpstreamKeys = UpstreamKeys()
    palm: PalmPolicy = PalmPolicy()


def load_upstream_config(path: Path) -> tuple[UpstreamConfig, Path]:
    config = read_toml(path, UpstreamConfig)
    return config, path.resolve().parent


__all__ = ["ConfigError", "UpstreamConfig", "load_upstream_config"]

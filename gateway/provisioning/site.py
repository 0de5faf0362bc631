"""Where everything of a site lives, one place for every path."""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Site:
    root: Path

    @property
    def registry(self) -> Path:
        return self.root / "registry.toml"

    @property
    def gateway_config(self) -> Path:
        return self.root / "gateway.toml"

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def gateway_key(self) -> Path:
        return self.keys / "gateway.key"

    @property
    def upstream_sign_key(self) -> Path:
        return self.keys / "upstream-sign.key"

    @property
    def upstream_seal_key(self) -> Path:
        return self.keys / "upstream-seal.key"

    @property
    def gateway_password(self) -> Path:
        return self.keys / "gateway.mqtt-password"

    @property
    def dashboard_password(self) -> Path:
        return self.keys / "dashboard.mqtt-password"

    @property
    def broker(self) -> Path:
        return self.root / "broker"

    def node_dir(self, node: str) -> Path:
        return self.root / "nodes" / node


DASHBOARD = "dashboard"

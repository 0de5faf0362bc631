"""Where everything of a site lives, one place for every path, and the kit a store gets from upstream."""

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
    def upstream_sign_public(self) -> Path:
        return self.keys / "upstream-sign.key.pub"

    @property
    def upstream_seal_public(self) -> Path:
        return self.keys / "upstream-seal.key.pub"

    @property
    def bridge_password(self) -> Path:
        """The bridge's credential on upstream's broker."""
        return self.keys / "upstream-bridge.mqtt-password"

    @property
    def gateway_password(self) -> Path:
        return self.keys / "gateway.mqtt-password"

    @property
    def dashboard_password(self) -> Path:
        return self.operator_password(DASHBOARD)

    def operator_password(self, name: str) -> Path:
        """A read-only dashboard account's broker password."""
        return self.keys / f"{name}.mqtt-password"

    @property
    def broker(self) -> Path:
        return self.root / "broker"

    def service_pin(self, node: str) -> Path:
        """A node's service PIN for its technicians; only its hash goes to the node."""
        return self.keys / "service-pins" / f"{node}.pin"

    def node_dir(self, node: str) -> Path:
        return self.root / "nodes" / node


@dataclass(frozen=True, slots=True)
class StoreKit:
    """What upstream hands a store's installer: its public keys and the bridge credential
    (`storeup add-store` writes it, `storeprov init --upstream-kit` reads it)."""

    root: Path

    @property
    def sign_public(self) -> Path:
        return self.root / "upstream-sign.key.pub"

    @property
    def seal_public(self) -> Path:
        return self.root / "upstream-seal.key.pub"

    @property
    def bridge(self) -> Path:
        """Where the bridge reaches upstream's broker, and as whom (TOML)."""
        return self.root / "bridge.toml"

    @property
    def bridge_password(self) -> Path:
        return self.root / "bridge.mqtt-password"


DASHBOARD = "dashboard"

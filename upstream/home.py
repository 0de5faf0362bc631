"""Where everything of the reference upstream lives, one place for every path.

Its private keys stay here: a store receives only the kit written under `stores/{store}`
(upstream's public keys and the store's bridge credential)."""

from dataclasses import dataclass
from pathlib import Path

from gateway.provisioning.site import StoreKit


@dataclass(frozen=True, slots=True)
class UpstreamHome:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "upstream.toml"

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def sign_key(self) -> Path:
        return self.keys / "upstream-sign.key"

    @property
    def seal_key(self) -> Path:
        return self.keys / "upstream-seal.key"

    @property
    def vault_key(self) -> Path:
        return self.keys / "vault.key"

    @property
    def password(self) -> Path:
        return self.keys / "upstream.mqtt-password"

    @property
    def stores(self) -> Path:
        """The stores linked to this upstream and their bridge credentials' hashes."""
        return self.root / "stores.toml"

    @property
    def broker(self) -> Path:
        return self.root / "broker"

    def kit(self, store: str) -> StoreKit:
        return StoreKit(self.root / "stores" / store)

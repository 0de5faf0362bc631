"""The device registry (TOML): which nodes exist, their role, public key and broker credential hash.

It is the gateway's source of truth for trust, and the broker's password file and ACL are
generated from it.
"""

from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import tomli_w
from nacl.signing import VerifyKey

from edge.protocol.configfile import ConfigError, NodeId, read_toml
from edge.protocol.filemodes import PRIVATE_FILE, make_dir
from edge.protocol.keys import KeyFileError, decode_key, encode_key, fingerprint, write_file_atomic
from edge.protocol.roles import DEVICE_ROLES, Role


class RegistryEntry(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    node: NodeId
    role: Role
    public_key: str
    mqtt_password_hash: str


class OperatorEntry(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A read-only broker account for dashboards: no key, it never signs anything."""

    name: NodeId
    mqtt_password_hash: str


class RegistryFile(msgspec.Struct, forbid_unknown_fields=True):
    store: NodeId
    gateway: RegistryEntry | None = None
    device: list[RegistryEntry] = []
    operator: list[OperatorEntry] = []


@dataclass(frozen=True, slots=True)
class Device:
    node: str
    role: Role
    key: VerifyKey
    mqtt_password_hash: str

    @property
    def fingerprint(self) -> str:
        return fingerprint(bytes(self.key))


@dataclass
class Registry:
    store: str
    gateway: Device | None = None
    devices: dict[str, Device] = field(default_factory=dict)
    operators: dict[str, str] = field(default_factory=dict)

    def names(self) -> set[str]:
        """Every broker username in use: gateway, devices and operators share one namespace."""
        gateway = {self.gateway.node} if self.gateway else set()
        return gateway | set(self.devices) | set(self.operators)

    def get(self, node: str) -> Device | None:
        return self.devices.get(node)

    def add(self, device: Device) -> None:
        if device.role not in DEVICE_ROLES:
            raise ValueError(f"role {device.role} is not a device role")
        self.devices[device.node] = device

    def remove(self, node: str) -> Device:
        return self.devices.pop(node)


def _device(entry: RegistryEntry, where: str) -> Device:
    try:
        key = VerifyKey(decode_key(entry.public_key, f"{where}: public key of {entry.node}"))
    except KeyFileError as error:
        raise ConfigError(str(error)) from None
    return Device(entry.node, entry.role, key, entry.mqtt_password_hash)


def load_registry(path: Path) -> Registry:
    raw = read_toml(path, RegistryFile)
    registry = Registry(raw.store)
    if raw.gateway is not None:
        if raw.gateway.role is not Role.GATEWAY:
            raise ConfigError(f'{path}: [gateway] must have role = "gateway"')
        registry.gateway = _device(raw.gateway, str(path))
    for entry in raw.device:
        if entry.role not in DEVICE_ROLES:
            raise ConfigError(f"{path}: device {entry.node} has role {entry.role}, not a device role")
        if entry.node in registry.devices or (registry.gateway and registry.gateway.node == entry.node):
            raise ConfigError(f"{path}: node id {entry.node} appears twice")
        registry.devices[entry.node] = _device(entry, str(path))
    for operator in raw.operator:
        if operator.name in registry.names():
            raise ConfigError(f"{path}: name {operator.name} appears twice")
        registry.operators[operator.name] = operator.mqtt_password_hash
    return registry


def _entry(device: Device) -> dict[str, str]:
    return {
        "node": device.node,
        "role": str(device.role),
        "public_key": encode_key(bytes(device.key)),
        "mqtt_password_hash": device.mqtt_password_hash,
    }


def save_registry(path: Path, registry: Registry) -> None:
    document: dict[str, object] = {"store": registry.store}
    if registry.gateway is not None:
        document["gateway"] = _entry(registry.gateway)
    document["device"] = [_entry(d) for d in sorted(registry.devices.values(), key=lambda d: d.node)]
    document["operator"] = [
        {"name": name, "mqtt_password_hash": password_hash}
        for name, password_hash in sorted(registry.operators.items())
    ]
    make_dir(path.parent)
    write_file_atomic(path, tomli_w.dumps(document).encode(), PRIVATE_FILE)

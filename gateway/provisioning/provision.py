"""Creating a site and adding nodes to it. Every step is idempotent: what exists is kept,
and a node id already bound to another key is refused unless forced."""

import secrets
import shutil
from collections.abc import Mapping
from pathlib import Path

import msgspec
import tomli_w

from edge.protocol.configfile import ConfigError, id_refusal, port_refusal, read_toml
from edge.protocol.filemodes import PRIVATE_FILE, SHARED_DIR, make_dir
from edge.protocol.keys import (
    fingerprint,
    generate_signing_key,
    load_public_bytes,
    load_signing_key,
    load_verify_key,
    public_path,
    write_file_atomic,
    write_public,
    write_secret_file,
)
from edge.protocol.roles import DEVICE_ROLES, Role
from edge.runtime.config import SERVICE_PIN_HASH
from edge.runtime.service_mode import PIN_DIGITS, hash_pin, is_pin
from gateway.config import UpstreamBridge, load_gateway_config
from gateway.provisioning.passwords import mosquitto_hash, new_password
from gateway.provisioning.site import DASHBOARD, Site, StoreKit
from gateway.registry import Device, Registry, load_registry, save_registry


class ProvisioningError(Exception):
    """A provisioning step that would destroy or contradict existing identity."""


def _ensure_key(path: Path) -> bool:
    """Make the signing key at `path` unless it exists; True when it is new."""
    if path.exists():
        return False
    generate_signing_key(path)
    return True


def _write_toml(path: Path, document: dict[str, object]) -> None:
    make_dir(path.parent)
    write_file_atomic(path, tomli_w.dumps(document).encode(), PRIVATE_FILE)


def _check_id(kind: str, value: str) -> None:
    if (refusal := id_refusal(kind, value)) is not None:
        raise ProvisioningError(refusal)


def _take_kit(site: Site, kit: StoreKit) -> UpstreamBridge:
    """Copy upstream's public keys and the bridge credential from the kit; a kit with a
    private key in it is refused, so no upstream secret ever lands on the store's side."""
    if not kit.bridge.exists():
        raise ProvisioningError(
            f"{kit.root} is not an upstream kit (no {kit.bridge.name}); `storeup add-store` makes one"
        )
    for path in kit.root.iterdir():
        if path.name.endswith(".key"):
            raise ProvisioningError(f"{path} is a private key: an upstream kit holds public keys only")
    bridge = read_toml(kit.bridge, UpstreamBridge)
    for source, target in ((kit.sign_public, site.upstream_sign_public), (kit.seal_public, site.upstream_seal_public)):
        write_public(target, load_public_bytes(source))
    write_secret_file(site.bridge_password, kit.bridge_password.read_text().strip())
    return bridge


def init_site(site: Site, store: str, gateway_id: str, broker_host: str, broker_port: int, kit: StoreKit) -> list[str]:
    """Make the store's gateway key, the gateway's and the dashboard's broker credentials, the
    registry and gateway.toml; take upstream's public keys and bridge credential from `kit`."""
    _check_id("store id", store)
    _check_id("gateway id", gateway_id)
    if gateway_id == DASHBOARD:
        raise ProvisioningError(f"{DASHBOARD!r} is the dashboard's broker account; choose another gateway id")
    if (refusal := port_refusal(broker_port)) is not None:
        raise ProvisioningError(refusal)
    report: list[str] = []
    make_dir(site.root, SHARED_DIR)  # Mosquitto's group passes through to broker/
    new = _ensure_key(site.gateway_key)
    raw = load_public_bytes(public_path(site.gateway_key))
    report.append(f"{'gateway':14} {'new' if new else 'kept':4} {fingerprint(raw)}  {public_path(site.gateway_key)}")
    bridge = _take_kit(site, kit)
    for label, path in (("upstream-sign", site.upstream_sign_public), ("upstream-seal", site.upstream_seal_public)):
        report.append(f"{label:14} {'kit':4} {fingerprint(load_public_bytes(path))}  {path}")
    if site.registry.exists():
        registry = load_registry(site.registry)
        if registry.store != store:
            raise ProvisioningError(f"{site.registry} is for store {registry.store}, not {store}")
    else:
        registry = Registry(store)
    if registry.gateway is None or registry.gateway.node != gateway_id or not site.gateway_password.exists():
        password = new_password()
        write_secret_file(site.gateway_password, password)
        registry.gateway = Device(
            gateway_id, Role.GATEWAY, load_verify_key(public_path(site.gateway_key)), mosquitto_hash(password)
        )
        report.append(f"gateway credential for {gateway_id} written to {site.gateway_password}")
    if gateway_id in registry.devices:
        raise ProvisioningError(f"{gateway_id} is already a device id; choose another gateway id")
    if _ensure_operator(site, registry, DASHBOARD):
        report.append(f"read-only dashboard credential written to {site.dashboard_password}")
    save_registry(site.registry, registry)
    if not site.gateway_config.exists():
        _write_toml(
            site.gateway_config,
            {
                "store": store,
                "id": gateway_id,
                "registry": "registry.toml",
                "journal": "state/journal.db",
                "broker": {"host": broker_host, "port": broker_port, "password_file": "keys/gateway.mqtt-password"},
                "keys": {"gateway": "keys/gateway.key", "upstream_sign": "keys/upstream-sign.key.pub"},
                "upstream": {
                    **msgspec.to_builtins(bridge),
                    "password_file": str(site.bridge_password.relative_to(site.root)),
                },
            },
        )
        report.append(f"gateway config written to {site.gateway_config}")
    return report


def add_node(
    site: Site,
    node: str,
    role: Role,
    broker_host: str | None = None,
    force: bool = False,
    backend: str = "sim",
    shelf: str | None = None,
    hardware: Mapping[str, object] | None = None,
    console: str | None = None,
) -> list[str]:
    """Give a node its key, broker credential and service PIN, register it, and write its
    config directory. A shelf node's shelf is named after it; a camera watches `shelf` (by
    default also its own id). `hardware`: more of node.toml's [hardware] table for the
    backend (a board's port or pins); `console`: the diagnostics console's serial port."""
    _check_id("node id", node)
    _check_id("hardware backend", backend)
    if shelf is not None:
        _check_id("shelf id", shelf)
        if role is not Role.CAMERA:
            raise ProvisioningError("--shelf names the shelf a camera watches; only camera nodes take it")
    if role not in DEVICE_ROLES:
        raise ProvisioningError(f"role {role} is not a device role ({', '.join(DEVICE_ROLES)})")
    if not site.registry.exists() or not site.gateway_config.exists():
        raise ProvisioningError(f"{site.root} is not an initialised site; run `make keys` first")
    registry = load_registry(site.registry)
    gateway, _ = load_gateway_config(site.gateway_config)
    directory = site.node_dir(node)
    key_path = directory / "device.key"
    if node in registry.names() and node not in registry.devices:
        raise ProvisioningError(f"{node} is the gateway's or an operator's broker account; choose another node id")
    existing = registry.get(node)
    if existing is not None and existing.role != role and not force:
        raise ProvisioningError(f"{node} is registered as {existing.role}; --force to re-provision it as {role}")
    if force and key_path.exists():
        for path in (key_path, public_path(key_path), directory / "mqtt.pass", site.service_pin(node)):
            path.unlink(missing_ok=True)
    if existing is not None and not force:
        if not key_path.exists():
            raise ProvisioningError(f"{node} is registered but its key is not in {directory}; --force to replace it")
        if bytes(load_signing_key(key_path).verify_key) != bytes(existing.key):
            raise ProvisioningError(f"{node} is registered with another key; --force to replace its identity")
    new_key = _ensure_key(key_path)
    password_file = directory / "mqtt.pass"
    if new_key or not password_file.exists() or existing is None:
        password = new_password()
        write_secret_file(password_file, password)
        password_hash = mosquitto_hash(password)
    else:
        password_hash = existing.mqtt_password_hash
    # The public half is taken from the private key itself, and its file rewritten, so a
    # stale .pub beside a replaced key can never put the wrong key in the registry.
    verify_key = load_signing_key(key_path).verify_key
    write_public(public_path(key_path), bytes(verify_key))
    registry.add(Device(node, role, verify_key, password_hash))
    save_registry(site.registry, registry)
    _ensure_service_pin(site, node)
    for source in (public_path(site.gateway_key), site.upstream_sign_public, site.upstream_seal_public):
        write_public(directory / source.name, load_public_bytes(source))
    _write_toml(
        directory / "node.toml",
        {
            "node": node,
            "role": str(role),
            "store": registry.store,
            "state_dir": "state",
            "broker": {
                "host": broker_host or gateway.broker.host,
                "port": gateway.broker.port,
                "password_file": "mqtt.pass",
            },
            "keys": {
                "device": "device.key",
                "gateway": "gateway.key.pub",
                "upstream_sign": "upstream-sign.key.pub",
                "upstream_seal": "upstream-seal.key.pub",
            },
            "gateway": {"id": gateway.id},
            "hardware": {"backend": backend, **(hardware or {})},
            **({"console": {"port": console, "pin_hash": SERVICE_PIN_HASH}} if console else {}),
            **({"shelf": {"id": node, "lanes": [0, 1, 2, 3]}} if role is Role.SHELF else {}),
            **({"camera": {"shelf": shelf or node, "lanes": [0, 1, 2, 3]}} if role is Role.CAMERA else {}),
            **({"gate": {"name": node}} if role is Role.GATE else {}),
        },
    )
    return [f"{node:14} {role:7} {'new' if new_key else 'kept'} {fingerprint(bytes(verify_key))}  {directory}"]


def _ensure_service_pin(site: Site, node: str) -> None:
    """The node's service PIN, kept on the site (0600) for its technicians, and its Argon2id
    hash in the node's directory, which is all the node gets. Made once; kept after."""
    pin_file, hash_file = site.service_pin(node), site.node_dir(node) / SERVICE_PIN_HASH
    if pin_file.exists() and is_pin(pin_file.read_text().strip()):
        if hash_file.exists():
            return
        pin = pin_file.read_text().strip()
    else:
        pin = "".join(secrets.choice("0123456789") for _ in range(PIN_DIGITS))
        write_secret_file(pin_file, pin)
    write_secret_file(hash_file, hash_pin(pin).decode())


def service_pin(site: Site, node: str) -> str:
    """The node's service PIN, for a technician's work order."""
    _check_id("node id", node)
    try:
        return site.service_pin(node).read_text().strip()
    except FileNotFoundError:
        raise ProvisioningError(f"{node} has no service PIN on this site; `storeprov add-node` makes one") from None


def add_operator(site: Site, name: str) -> list[str]:
    """A read-only broker account for one more dashboard. The broker ties a session to its
    account (use_username_as_clientid), so two dashboards logged in as one account push
    each other off: give Home Assistant, Node-RED and each `storegw top` their own.
    Idempotent: an account that exists keeps its password."""
    _check_id("operator name", name)
    if not site.registry.exists():
        raise ProvisioningError(f"{site.root} is not an initialised site; run `make keys` first")
    registry = load_registry(site.registry)
    if name in registry.names() and name not in registry.operators:
        raise ProvisioningError(f"{name} is the gateway's or a device's broker account; choose another name")
    path = site.operator_password(name)
    if not _ensure_operator(site, registry, name):
        return [f"operator {name} exists; its password is in {path}"]
    save_registry(site.registry, registry)
    return [f"read-only dashboard account {name}; its password is in {path}"]


def _ensure_operator(site: Site, registry: Registry, name: str) -> bool:
    """Give operator `name` a password and its hash in `registry` (not saved) unless it has
    both already; True if it made one."""
    if name in registry.operators and site.operator_password(name).exists():
        return False
    password = new_password()
    write_secret_file(site.operator_password(name), password)
    registry.operators[name] = mosquitto_hash(password)
    return True


def decommission_node(site: Site, node: str) -> list[str]:
    """Take a node out of the registry and delete its key and broker password from the site.
    The broker's password file and ACL must then be rewritten (the caller does) and the
    gateway, which rereads the registry when it changes, refuses the node's messages."""
    _check_id("node id", node)
    if not site.registry.exists():
        raise ProvisioningError(f"{site.root} is not an initialised site; run `make keys` first")
    registry = load_registry(site.registry)
    device = registry.get(node)
    if device is None:
        raise ProvisioningError(f"{node} is not a registered device ({len(registry.devices)} are; `storeprov show`)")
    registry.remove(node)
    save_registry(site.registry, registry)
    directory = site.node_dir(node)
    if directory.exists():
        shutil.rmtree(directory)
    site.service_pin(node).unlink(missing_ok=True)
    return [f"{node:14} {device.role:7} revoked {device.fingerprint}; its key and password deleted from {site.root}"]


__all__ = [
    "ConfigError",
    "ProvisioningError",
    "add_node",
    "add_operator",
    "decommission_node",
    "init_site",
    "service_pin",
]

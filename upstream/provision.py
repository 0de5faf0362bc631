"""Setting up the reference upstream and linking stores to it. Every step is idempotent:
keys and credentials that exist are kept.

A store is linked by `add_store`, which writes the store's kit: upstream's two public keys
and a bridge credential that may write only that store's `out/` and read only its `in/`.
The installer hands the kit to `storeprov init --upstream-kit`; nothing private of upstream's
ever leaves this home."""

from pathlib import Path
from string import Template

import msgspec
import tomli_w

from edge.protocol.configfile import ConfigError, NodeId, id_refusal, port_refusal, read_toml
from edge.protocol.filemodes import PRIVATE_FILE, SHARED_DIR, SHARED_FILE, make_dir
from edge.protocol.keys import (
    fingerprint,
    generate_box_key,
    generate_sealing_key,
    generate_signing_key,
    load_public_bytes,
    public_path,
    write_file_atomic,
    write_public,
    write_secret_file,
)
from gateway.provisioning.passwords import mosquitto_hash, new_password
from upstream.config import load_upstream_config
from upstream.home import UpstreamHome

TEMPLATE = Path(__file__).resolve().parents[1] / "deploy" / "mosquitto" / "upstream.conf.template"


class LinkedStore(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    id: NodeId
    username: NodeId
    mqtt_password_hash: str


class StoresFile(msgspec.Struct, forbid_unknown_fields=True):
    store: list[LinkedStore] = []


class UpstreamProvisioningError(Exception):
    """A step that cannot be done as asked (a bad id, an uninitialised home)."""


def bridge_username(store: str) -> str:
    return f"store-{store}"


def init_upstream(home: UpstreamHome, broker_host: str, broker_port: int, upstream_id: str = "upstream") -> list[str]:
    """Make upstream's keys, its service's broker credential and upstream.toml."""
    if (refusal := id_refusal("upstream id", upstream_id) or port_refusal(broker_port)) is not None:
        raise UpstreamProvisioningError(refusal)
    report: list[str] = []
    make_dir(home.root, SHARED_DIR)  # Mosquitto's group passes through to broker/
    for label, path, make in (
        ("upstream-sign", home.sign_key, generate_signing_key),
        ("upstream-seal", home.seal_key, generate_sealing_key),
    ):
        new = not path.exists()
        if new:
            make(path)
        report.append(f"{label:14} {'new' if new else 'kept':4} {fingerprint(load_public_bytes(public_path(path)))}")
    if not home.vault_key.exists():
        generate_box_key(home.vault_key)
        report.append(f"vault key      new  {home.vault_key}")
    if not home.password.exists():
        write_secret_file(home.password, new_password())
    if not home.config.exists():
        document = {
            "id": upstream_id,
            "vault": "state/vault.db",
            "broker": {
                "host": broker_host,
                "port": broker_port,
                "password_file": str(home.password.relative_to(home.root)),
            },
        }
        write_file_atomic(home.config, tomli_w.dumps(document).encode(), PRIVATE_FILE)
        report.append(f"upstream config written to {home.config}")
    return report


def _stores(home: UpstreamHome) -> StoresFile:
    return read_toml(home.stores, StoresFile) if home.stores.exists() else StoresFile()


def add_store(home: UpstreamHome, store: str) -> list[str]:
    """Link `store`: its bridge credential, and the kit its installer takes to the store."""
    if (refusal := id_refusal("store id", store)) is not None:
        raise UpstreamProvisioningError(refusal)
    if not home.config.exists():
        raise UpstreamProvisioningError(f"{home.root} is not an initialised upstream; run `storeup init` first")
    config, _ = load_upstream_config(home.config)
    kit = home.kit(store)
    stores = _stores(home)
    linked = {entry.id: entry for entry in stores.store}
    report: list[str] = []
    if store not in linked or not kit.bridge_password.exists():
        password = new_password()
        write_secret_file(kit.bridge_password, password)
        linked[store] = LinkedStore(store, bridge_username(store), mosquitto_hash(password))
        report.append(f"bridge credential for {store} written to {kit.bridge_password}")
    stores.store = sorted(linked.values(), key=lambda entry: entry.id)
    write_file_atomic(home.stores, tomli_w.dumps(msgspec.to_builtins(stores)).encode(), PRIVATE_FILE)
    for source, target in ((home.sign_key, kit.sign_public), (home.seal_key, kit.seal_public)):
        write_public(target, load_public_bytes(public_path(source)))
    bridge = {
        "id": config.id,
        "host": config.broker.host,
        "port": config.broker.port,
        "username": bridge_username(store),
    }
    write_file_atomic(kit.bridge, tomli_w.dumps(bridge).encode(), PRIVATE_FILE)
    report.append(f"store kit for {store} in {kit.root}")
    return report


def acl_text(home: UpstreamHome, upstream_id: str) -> str:
    lines = [
        "# generated from stores.toml by `storeup broker-config`; edits are overwritten",
        "",
        f"user {upstream_id}",
        "topic read store/+/upstream/out/#",
        "topic write store/+/upstream/in/#",
        "",
    ]
    for entry in _stores(home).store:
        lines += [
            f"user {entry.username}",
            f"topic write store/{entry.id}/upstream/out/#",
            f"topic read store/{entry.id}/upstream/in/#",
            "",
        ]
    return "\n".join(lines)


def write_upstream_broker_config(home: UpstreamHome, bind: str, run_as: str) -> Path:
    """Mosquitto's config, passwords and ACL for upstream's broker; returns the config's path."""
    config, base = load_upstream_config(home.config)
    password = home.password.read_text().strip()
    entries = [f"{config.id}:{mosquitto_hash(password)}"]
    entries += [f"{entry.username}:{entry.mqtt_password_hash}" for entry in _stores(home).store]
    directory = home.broker.resolve()
    make_dir(directory / "data", SHARED_DIR)
    # 0640: Mosquitto rereads them as `run_as` on a reload, which needs its group to read
    write_file_atomic(directory / "passwd", ("\n".join(entries) + "\n").encode(), SHARED_FILE)
    write_file_atomic(directory / "acl", acl_text(home, config.id).encode(), SHARED_FILE)
    conf = directory / "mosquitto.conf"
    text = Template(TEMPLATE.read_text()).substitute(
        passwd=directory / "passwd",
        acl=directory / "acl",
        port=config.broker.port,
        bind=bind,
        run_as=run_as,
        data=directory / "data",
    )
    write_file_atomic(conf, text.encode(), SHARED_FILE)
    return conf


__all__ = ["ConfigError", "UpstreamProvisioningError", "add_store", "init_upstream", "write_upstream_broker_config"]

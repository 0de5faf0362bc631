"""gateway/provisioning/provision.py: init_site and add_node, idempotent and refusing to lose identity."""

import shutil
import stat
import time
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from edge.protocol.keys import (
    encode_key,
    fingerprint,
    generate_signing_key,
    load_signing_key,
    load_verify_key,
    public_path,
    write_secret_file,
)
from edge.protocol.roles import Role
from edge.runtime.config import load_node_config
from edge.runtime.service_mode import pin_matches
from firmware_tests.conftest import Store, wait_until
from firmware_tests.mqtt_client import TestClient
from gateway.config import load_gateway_config
from gateway.provisioning.flash import update_broker
from gateway.provisioning.passwords import matches
from gateway.provisioning.provision import (
    ProvisioningError,
    add_node,
    add_operator,
    decommission_node,
    init_site,
    service_pin,
)
from gateway.provisioning.site import Site, StoreKit
from gateway.registry import load_registry
from upstream.home import UpstreamHome
from upstream.provision import add_store, init_upstream


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def kit_for(tmp_path: Path, store: str = "s1") -> StoreKit:
    home = UpstreamHome(tmp_path / "upstream")
    init_upstream(home, "up.example", 8883)
    add_store(home, store)
    return home.kit(store)


def initialised(tmp_path: Path) -> Site:
    site = Site(tmp_path / "site")
    init_site(site, "s1", "gateway", "10.0.0.2", 1884, kit_for(tmp_path))
    return site


def gateway_hash(site: Site) -> str:
    gateway = load_registry(site.registry).gateway
    assert gateway is not None
    return gateway.mqtt_password_hash


def fingerprints(lines: list[str]) -> list[str]:
    return [word for line in lines for word in line.split() if word.startswith("SHA256:")]


def test_init_site_creates_keys_registry_and_gateway_config(tmp_path: Path) -> None:
    site = Site(tmp_path / "site")
    kit = kit_for(tmp_path)
    report = init_site(site, "s1", "gw-main", "10.0.0.2", 1884, kit)
    assert mode(site.gateway_key) == 0o600
    assert public_path(site.gateway_key).exists()
    assert site.upstream_sign_public.read_text() == kit.sign_public.read_text()
    assert site.upstream_seal_public.read_text() == kit.seal_public.read_text()
    assert mode(site.gateway_password) == 0o600
    assert mode(site.bridge_password) == 0o600
    registry = load_registry(site.registry)
    assert registry.store == "s1"
    assert registry.devices == {}
    assert registry.gateway is not None
    assert registry.gateway.node == "gw-main"
    assert registry.gateway.role is Role.GATEWAY
    assert bytes(registry.gateway.key) == bytes(load_verify_key(public_path(site.gateway_key)))
    assert bytes(registry.gateway.key) == bytes(load_signing_key(site.gateway_key).verify_key)
    assert matches(site.gateway_password.read_text().strip(), registry.gateway.mqtt_password_hash)
    config, base = load_gateway_config(site.gateway_config)
    assert (config.store, config.id, config.broker.host, config.broker.port) == ("s1", "gw-main", "10.0.0.2", 1884)
    assert base == site.root.resolve()
    assert config.upstream is not None
    assert (config.upstream.host, config.upstream.port, config.upstream.username) == ("up.example", 8883, "store-s1")
    assert config.upstream.password_file is not None
    assert (base / config.upstream.password_file).read_text() == kit.bridge_password.read_text()
    assert len(fingerprints(report)) == 3
    assert fingerprint(bytes(registry.gateway.key)) in fingerprints(report)
    assert " new " in report[0]


def test_init_site_is_idempotent(tmp_path: Path) -> None:
    site = Site(tmp_path / "site")
    kit = kit_for(tmp_path)
    first = init_site(site, "s1", "gateway", "127.0.0.1", 1883, kit)
    password = site.gateway_password.read_text()
    registry_hash = gateway_hash(site)
    key_text = site.gateway_key.read_text()
    second = init_site(site, "s1", "gateway", "127.0.0.1", 1883, kit)
    assert fingerprints(second) == fingerprints(first)
    assert " kept " in second[0]
    assert site.gateway_key.read_text() == key_text
    assert site.gateway_password.read_text() == password
    assert gateway_hash(site) == registry_hash


def test_init_site_keeps_registered_devices(tmp_path: Path) -> None:
    site = initialised(tmp_path)
    add_node(site, "n1", Role.SHELF)
    init_site(site, "s1", "gateway", "10.0.0.2", 1884, kit_for(tmp_path))
    assert set(load_registry(site.registry).devices) == {"n1"}


def test_init_site_refuses_another_store(tmp_path: Path) -> None:
    site = initialised(tmp_path)
    with pytest.raises(ProvisioningError, match="s1"):
        init_site(site, "s2", "gateway", "10.0.0.2", 1884, kit_for(tmp_path))


def test_add_node_writes_a_loadable_node_config(tmp_path: Path) -> None:
    site = initialised(tmp_path)
    report = add_node(site, "n1", Role.SHELF)
    directory = site.node_dir("n1")
    config, base = load_node_config(directory / "node.toml")
    assert (config.node, config.role, config.store) == ("n1", Role.SHELF, "s1")
    assert (config.broker.host, config.broker.port) == ("10.0.0.2", 1884)
    assert config.gateway.id == "gateway"
    assert base == directory.resolve()
    key = base / config.keys.device
    assert mode(key) == 0o600
    assert config.broker.password_file is not None
    password = base / config.broker.password_file
    assert mode(password) == 0o600
    for name in (config.keys.gateway, config.keys.upstream_sign, config.keys.upstream_seal):
        assert name is not None and (base / name).exists()
    assert (base / config.keys.gateway).read_text() == public_path(site.gateway_key).read_text()
    device = load_registry(site.registry).get("n1")
    assert device is not None
    assert device.role is Role.SHELF
    assert bytes(device.key) == bytes(load_signing_key(key).verify_key)
    assert matches(password.read_text().strip(), device.mqtt_password_hash)
    assert fingerprints(report) == [device.fingerprint]


def test_add_node_broker_host_override(tmp_path: Path) -> None:
    site = initialised(tmp_path)
    add_node(site, "cam-1", Role.CAMERA, broker_host="gw.local")
    config, _ = load_node_config(site.node_dir("cam-1") / "node.toml")
    assert config.broker.host == "gw.local"
    assert config.role is Role.CAMERA


def test_a_camera_is_told_the_shelf_it_watches_and_only_a_camera(tmp_path: Path) -> None:
    site = initialised(tmp_path)
    add_node(site, "cam-1", Role.CAMERA, shelf="shelf-07")
    add_node(site, "cam-2", Role.CAMERA)
    watched = [load_node_config(site.node_dir(n) / "node.toml")[0].camera for n in ("cam-1", "cam-2")]
    assert [c.shelf if c else None for c in watched] == ["shelf-07", "cam-2"]
    with pytest.raises(ProvisioningError, match="only camera"):
        add_node(site, "shelf-01", Role.SHELF, shelf="shelf-07")
    assert not site.node_dir("shelf-01").exists(), "a refused node leaves nothing behind"


def test_add_node_twice_keeps_key_and_password(tmp_path: Path) -> None:
    site = initialised(tmp_path)
    first = add_node(site, "n1", Role.GATE)
    directory = site.node_dir("n1")
    key_text = (directory / "device.key").read_text()
    password = (directory / "mqtt.pass").read_text()
    stored_hash = load_registry(site.registry).devices["n1"].mqtt_password_hash
    second = add_node(site, "n1", Role.GATE)
    assert fingerprints(second) == fingerprints(first)
    assert " kept " in second[0]
    assert (directory / "device.key").read_text() == key_text
    assert (directory / "mqtt.pass").read_text() == password
    assert load_registry(site.registry).devices["n1"].mqtt_password_hash == stored_hash


def test_add_node_with_another_role_needs_force(tmp_path: Path) -> None:
    site = initialised(tmp_path)
    add_node(site, "n1", Role.SHELF)
    with pytest.raises(ProvisioningError, match="registered as shelf"):
        add_node(site, "n1", Role.CAMERA)
    assert load_registry(site.registry).devices["n1"].role is Role.SHELF
    add_node(site, "n1", Role.CAMERA, force=True)
    assert load_registry(site.registry).devices["n1"].role is Role.CAMERA


def test_replaced_key_files_are_refused_unless_forced(tmp_path: Path) -> None:
    site = initialised(tmp_path)
    add_node(site, "n1", Role.SHELF)
    key_path = site.node_dir("n1") / "device.key"
    registered = bytes(load_registry(site.registry).devices["n1"].key)
    intruder = bytes(generate_signing_key(key_path, overwrite=True))
    with pytest.raises(ProvisioningError, match="another key"):
        add_node(site, "n1", Role.SHELF)
    assert bytes(load_registry(site.registry).devices["n1"].key) == registered
    add_node(site, "n1", Role.SHELF, force=True)
    now = bytes(load_registry(site.registry).devices["n1"].key)
    assert now not in (registered, intruder)
    assert now == bytes(load_signing_key(key_path).verify_key)
    assert now == bytes(load_verify_key(public_path(key_path)))


def test_replaced_private_key_is_refused(tmp_path: Path) -> None:
    site = initialised(tmp_path)
    add_node(site, "n1", Role.SHELF)
    key_path = site.node_dir("n1") / "device.key"
    write_secret_file(key_path, encode_key(bytes(SigningKey.generate())))
    with pytest.raises(ProvisioningError):
        add_node(site, "n1", Role.SHELF)


def test_registered_node_without_its_key_is_refused(tmp_path: Path) -> None:
    site = initialised(tmp_path)
    add_node(site, "n1", Role.SHELF)
    (site.node_dir("n1") / "device.key").unlink()
    with pytest.raises(ProvisioningError, match="--force"):
        add_node(site, "n1", Role.SHELF)


def test_add_node_before_init(tmp_path: Path) -> None:
    site = Site(tmp_path / "empty")
    with pytest.raises(ProvisioningError, match="not an initialised site"):
        add_node(site, "n1", Role.SHELF)
    assert not site.node_dir("n1").exists()


@pytest.mark.parametrize("role", [Role.GATEWAY, Role.UPSTREAM])
def test_add_node_refuses_a_non_device_role(tmp_path: Path, role: Role) -> None:
    site = initialised(tmp_path)
    with pytest.raises(ProvisioningError, match="not a device role"):
        add_node(site, "n1", role)


def test_private_keys_never_reach_registry_or_configs(tmp_path: Path) -> None:
    site = initialised(tmp_path)
    for node, role in (("n1", Role.SHELF), ("c1", Role.CAMERA), ("g1", Role.GATE)):
        add_node(site, node, role)
    home = UpstreamHome(tmp_path / "upstream")
    private_files = [site.gateway_key, home.sign_key, home.seal_key, home.vault_key] + [
        site.node_dir(node) / "device.key" for node in ("n1", "c1", "g1")
    ]
    secrets = [path.read_text().strip() for path in private_files]
    assert all(len(secret) == 44 for secret in secrets)
    public_texts = [site.registry, site.gateway_config] + [
        site.node_dir(node) / "node.toml" for node in ("n1", "c1", "g1")
    ]
    for path in public_texts:
        text = path.read_bytes()
        for secret, private in zip(secrets, private_files, strict=True):
            assert secret.encode() not in text, f"{private} leaked into {path}"
            assert secret.rstrip("=").encode() not in text
    assert len(load_registry(site.registry).devices) == 3


def test_decommission_takes_the_node_out_and_deletes_its_secrets(tmp_path: Path) -> None:
    site = initialised(tmp_path)
    add_node(site, "shelf-01", Role.SHELF)
    add_node(site, "gate-01", Role.GATE)
    fingerprint_before = load_registry(site.registry).devices["shelf-01"].fingerprint
    report = decommission_node(site, "shelf-01")
    assert fingerprint_before in report[0]
    assert set(load_registry(site.registry).devices) == {"gate-01"}
    assert not site.node_dir("shelf-01").exists()
    assert site.node_dir("gate-01").exists()


def test_an_operator_account_is_read_only_its_own_and_made_once(tmp_path: Path) -> None:
    site = initialised(tmp_path)
    add_node(site, "gate-01", Role.GATE)
    add_operator(site, "homeassistant")
    password = site.operator_password("homeassistant")
    assert mode(password) == 0o600
    assert matches(password.read_text().strip(), load_registry(site.registry).operators["homeassistant"])
    first = password.read_bytes()
    assert "exists" in add_operator(site, "homeassistant")[0]
    assert password.read_bytes() == first
    before = site.registry.read_bytes()
    for taken in ("gate-01", "gateway"):
        with pytest.raises(ProvisioningError, match="choose another name"):
            add_operator(site, taken)
    with pytest.raises(ProvisioningError, match="must be 1-64 characters"):
        add_operator(site, "../x")
    assert site.registry.read_bytes() == before


def test_decommissioning_an_unknown_node_changes_nothing(tmp_path: Path) -> None:
    site = initialised(tmp_path)
    add_node(site, "gate-01", Role.GATE)
    before = site.registry.read_bytes()
    with pytest.raises(ProvisioningError, match="shelf-09 is not a registered device"):
        decommission_node(site, "shelf-09")
    with pytest.raises(ProvisioningError, match="must be 1-64 characters"):
        decommission_node(site, "../gate-01")
    assert site.registry.read_bytes() == before


def test_a_decommissioned_node_is_refused_by_the_gateway_and_then_by_the_broker(make_store) -> None:  # type: ignore[no-untyped-def]
    store: Store = make_store([("shelf-01", Role.SHELF)])
    device = store.root / "device"  # what stays on the node itself: its key and password
    shutil.copytree(store.site.node_dir("shelf-01"), device)
    (device / "node.toml").write_text((device / "node.toml").read_text() + "\n[health]\ninterval_s = 1\n")
    store.start_gateway()
    store.spawn("shelf-01", "-m", "edge.runtime.cli", "--config", str(device / "node.toml"), "run")
    wait_until(lambda: len(store.journaled("shelf-01", "health")) >= 2, 30, "the node's events accepted")
    decommission_node(store.site, "shelf-01")
    # The gateway rereads the registry: what still reaches it is refused, and never journaled.
    wait_until(lambda: store.rejects().get("unknown_device", 0) >= 2, 30, "the gateway refusing the node")
    journaled = len(store.query("SELECT id FROM journal WHERE dev='shelf-01'"))
    assert "reloaded" in update_broker(store.site)
    password = (device / "mqtt.pass").read_text().strip()
    client = TestClient(store.port, "shelf-01", password, "shelf-01-again")
    try:
        assert client.refused is not None and not client.connected
    finally:
        client.close()
    # Mosquitto drops the node's open session on the reload and refuses its reconnects.
    log = store.root / "shelf-01.log"
    wait_until(
        lambda: b"refused the connection: Not authorized" in log.read_bytes(), 10, "the node's reconnect refused"
    )
    refused = store.rejects()["unknown_device"]
    time.sleep(3)  # three health intervals
    assert store.rejects()["unknown_device"] == refused
    assert len(store.query("SELECT id FROM journal WHERE dev='shelf-01'")) == journaled


def test_a_node_gets_a_service_pin_and_only_its_hash_goes_to_the_node(tmp_path: Path) -> None:
    site = initialised(tmp_path)
    add_node(site, "n1", Role.SHELF)
    pin = service_pin(site, "n1")
    assert len(pin) == 8 and pin.isdigit()
    assert mode(site.service_pin("n1")) == 0o600
    stored = site.node_dir("n1") / "service-pin.hash"
    assert mode(stored) == 0o600 and pin_matches(stored.read_bytes().strip(), pin)
    assert not any(pin in path.read_text() for path in site.node_dir("n1").iterdir() if path.is_file())
    add_node(site, "n1", Role.SHELF)
    assert service_pin(site, "n1") == pin, "kept when the node is added again"
    add_node(site, "n2", Role.SHELF)
    assert service_pin(site, "n2") != pin, "each device has its own (10^-8 odds of a coincidence)"


def test_forcing_a_node_anew_gives_it_a_new_pin_and_decommissioning_drops_it(tmp_path: Path) -> None:
    site = initialised(tmp_path)
    add_node(site, "n1", Role.GATE)
    old = service_pin(site, "n1")
    add_node(site, "n1", Role.GATE, force=True)
    new = service_pin(site, "n1")
    stored = (site.node_dir("n1") / "service-pin.hash").read_bytes().strip()
    assert new != old and pin_matches(stored, new) and not pin_matches(stored, old)
    decommission_node(site, "n1")
    assert not site.service_pin("n1").exists()
    with pytest.raises(ProvisioningError):
        service_pin(site, "n1")


def test_a_console_port_goes_into_node_toml(tmp_path: Path) -> None:
    site = initialised(tmp_path)
    add_node(site, "n1", Role.SHELF, console="/dev/serial0")
    config, base = load_node_config(site.node_dir("n1") / "node.toml")
    assert config.console is not None and config.console.port == "/dev/serial0"
    assert (base / config.console.pin_hash).exists()
    add_node(site, "n2", Role.SHELF)
    assert load_node_config(site.node_dir("n2") / "node.toml")[0].console is None

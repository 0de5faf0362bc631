"""upstream/provision.py: upstream's home, the store kits and upstream's broker config."""

import stat
from pathlib import Path

import pytest

from edge.protocol.keys import load_public_bytes, public_path
from gateway.provisioning.passwords import matches
from upstream.home import UpstreamHome
from upstream.provision import (
    UpstreamProvisioningError,
    acl_text,
    add_store,
    init_upstream,
    write_upstream_broker_config,
)


def test_a_kit_holds_public_keys_and_its_own_bridge_credential_only(tmp_path: Path) -> None:
    home = UpstreamHome(tmp_path / "up")
    init_upstream(home, "up.example", 8883)
    add_store(home, "s1")
    add_store(home, "s2")
    kit = home.kit("s1")
    assert sorted(p.name for p in kit.root.iterdir()) == [
        "bridge.mqtt-password",
        "bridge.toml",
        "upstream-seal.key.pub",
        "upstream-sign.key.pub",
    ]
    assert load_public_bytes(kit.seal_public) == load_public_bytes(public_path(home.seal_key))
    assert stat.S_IMODE(kit.bridge_password.stat().st_mode) == 0o600
    assert 'host = "up.example"' in kit.bridge.read_text() and 'username = "store-s1"' in kit.bridge.read_text()
    private = [home.sign_key, home.seal_key, home.vault_key, home.password]
    secrets = [path.read_text().strip() for path in private]
    for path in kit.root.iterdir():
        for secret in secrets:
            assert secret not in path.read_text()
    stored = home.stores.read_text()
    assert stored.count("[[store]]") == 2
    password = kit.bridge_password.read_text()
    add_store(home, "s1")
    assert kit.bridge_password.read_text() == password  # idempotent: the credential is kept
    hashes = [line.split('"')[1] for line in home.stores.read_text().splitlines() if "hash" in line]
    assert any(matches(password.strip(), h) for h in hashes)


def test_each_store_writes_only_its_own_out_and_reads_only_its_own_in(tmp_path: Path) -> None:
    home = UpstreamHome(tmp_path / "up")
    init_upstream(home, "127.0.0.1", 1884)
    add_store(home, "s1")
    acl = acl_text(home, "upstream")
    assert "user store-s1\ntopic write store/s1/upstream/out/#\ntopic read store/s1/upstream/in/#" in acl
    assert "user upstream\ntopic read store/+/upstream/out/#\ntopic write store/+/upstream/in/#" in acl
    conf = write_upstream_broker_config(home, "127.0.0.1", "nobody")
    assert "listener 1884 127.0.0.1" in conf.read_text() and "allow_anonymous false" in conf.read_text()
    assert len((home.broker / "passwd").read_text().splitlines()) == 2


def test_bad_ids_and_an_uninitialised_home_are_refused(tmp_path: Path) -> None:
    home = UpstreamHome(tmp_path / "up")
    with pytest.raises(UpstreamProvisioningError, match="not an initialised upstream"):
        add_store(home, "s1")
    with pytest.raises(UpstreamProvisioningError, match="upstream id"):
        init_upstream(home, "127.0.0.1", 1884, "Up Stream")
    init_upstream(home, "127.0.0.1", 1884)
    with pytest.raises(UpstreamProvisioningError, match="store id"):
        add_store(home, "../s1")
    assert not (home.root / "stores").exists()

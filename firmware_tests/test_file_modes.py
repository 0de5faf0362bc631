"""File modes of everything a site, a node, the gateway and upstream write: nothing is open
to others, and the group reads only what Mosquitto, which may run as its own user, needs
(its config, passwords and ACL, and the folders above them)."""

import stat
from collections.abc import Iterator
from pathlib import Path

from edge.protocol.roles import Role
from edge.runtime.bootstate import BootState, BootStateFile
from edge.runtime.console import PinFailures
from edge.shelf.calibration import CalibrationStore, LaneCalibration
from firmware_tests.conftest import wait_until
from gateway.provisioning.cli import main as storeprov
from upstream.cli import main as storeup

PRIVATE_FILE, PRIVATE_DIR = 0o600, 0o700
SHARED_FILE, SHARED_DIR = 0o640, 0o750


def walk(root: Path) -> Iterator[Path]:
    yield root
    yield from root.rglob("*")


def allowed(root: Path, path: Path) -> int:
    """The widest mode the policy allows at `path` under a site's or upstream's `root`."""
    broker = root / "broker"
    if path.is_dir():
        return SHARED_DIR if path in (root, broker) or broker in path.parents else PRIVATE_DIR
    return SHARED_FILE if broker in path.parents else PRIVATE_FILE


def too_open(*roots: Path) -> list[str]:
    found = []
    for root in roots:
        for path in walk(root):
            if path.is_symlink():
                continue
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & ~allowed(root, path):
                found.append(f"{path.relative_to(root.parent)} {mode:04o}")
    return found


def test_a_provisioned_site_and_upstream_open_nothing_to_others(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    upstream, site = tmp_path / "upstream", tmp_path / "site"
    assert storeup(["--home", str(upstream), "init"]) == 0
    assert storeup(["--home", str(upstream), "add-store", "s1"]) == 0
    assert storeup(["--home", str(upstream), "broker-config"]) == 0
    kit = str(upstream / "stores" / "s1")
    assert storeprov(["--site", str(site), "init", "--store", "s1", "--upstream-kit", kit]) == 0
    assert storeprov(["--site", str(site), "add-node", "shelf-01", "shelf"]) == 0
    assert storeprov(["--site", str(site), "add-node", "camera-01", "camera"]) == 0
    assert storeprov(["--site", str(site), "add-operator", "homeassistant"]) == 0
    assert storeprov(["--site", str(site), "broker-config"]) == 0
    assert (site / "broker" / "passwd").exists() and (upstream / "broker" / "acl").exists()
    found = too_open(site, upstream)
    assert not found, found
    assert stat.S_IMODE((site / "broker" / "acl").stat().st_mode) == SHARED_FILE
    assert stat.S_IMODE((site / "broker").stat().st_mode) == SHARED_DIR


def test_a_running_store_writes_its_databases_and_state_closed(make_store) -> None:  # type: ignore[no-untyped-def]
    """Journal, access, spool, vault and receipts databases with their -wal and -shm files,
    a node's boot state, and the brokers' files, walked while everything runs and again
    once everything has stopped (the brokers have saved their persistence)."""
    store = make_store([("shelf-01", Role.SHELF)])
    store.start_upstream()
    store.start_gateway()
    store.start_node("shelf-01", 20, 0, "--linger")
    wait_until(lambda: len(store.journaled("shelf-01")) == 20, 60, "20 journaled events")
    state = store.site.root / "state"
    wal = [state / "journal.db-wal", state / "journal.db-shm", state / "access.db", store.spool_path("shelf-01")]
    vault = store.upstream_home.root / "state" / "vault.db"
    wait_until(lambda: all(path.exists() for path in [*wal, vault]), 30, "every database open")
    assert Path(str(store.spool_path("shelf-01")) + "-wal").exists()
    found = too_open(store.site.root, store.upstream_home.root)
    assert not found, found
    store.close()
    assert (store.site.broker / "data" / "mosquitto.db").exists()
    found = too_open(store.site.root, store.upstream_home.root)
    assert not found, found


def test_a_node_writes_its_state_on_demand_closed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """What a node writes only when a technician or a restart asks: wrong PINs, a shelf's
    calibration, the boot counter; into a state folder they make."""
    node = tmp_path / "node"
    node.mkdir(mode=0o700)
    PinFailures(node / "state" / "console.json").write(1)
    CalibrationStore(node / "state" / "calibration.toml").save({0: LaneCalibration(100, 420.0)})
    BootStateFile(node / "state" / "boot.json").write(BootState(1, 0, 0))
    assert sorted(path.name for path in (node / "state").iterdir()) == ["boot.json", "calibration.toml", "console.json"]
    found = too_open(node)
    assert not found, found

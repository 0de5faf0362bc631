"""`make flash`: a Raspberry Pi node's identity, registration and first boot, written to its
SD card's boot partition; and the RP2040 shelf board's firmware, put on it with mpremote.

Every step can run again: the node keeps its key and password, the card gets the same files.
A card holding another node's first boot is refused unless forced.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from edge.protocol.keys import write_file_atomic
from edge.protocol.roles import Role
from gateway.provisioning import cloud_init
from gateway.provisioning.broker_config import reload_running_broker, write_broker_credentials
from gateway.provisioning.cloud_init import Firmware, FirstBoot, NodeFile
from gateway.provisioning.provision import ProvisioningError, add_node
from gateway.provisioning.site import Site
from gateway.registry import load_registry
from hw.boards import BOARDS, CONSOLE_PORT

SOURCE = Path(__file__).resolve().parents[2]
UNIT_TEMPLATE = SOURCE / "deploy" / "systemd" / "storenode.service"
MCU_FIRMWARE = SOURCE / "edge" / "mcu" / "main.py"
CONFIG_BEGIN = "# storeedge (make flash): begin"
CONFIG_END = "# storeedge (make flash): end"
# The UART is the technicians' console, so the kernel's login console leaves it.
_SERIAL_CONSOLES = ("console=serial0", "console=ttyAMA0", "console=ttyS0")


def _flashed_node(boot: Path) -> str | None:
    """The node whose first boot the card holds, if `make flash` wrote it."""
    meta = boot / "meta-data"
    if not meta.exists():
        return None
    for line in meta.read_text(errors="replace").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "local-hostname":
            return value.strip()
    return None


def check_boot(boot: Path, node: str, force: bool) -> None:
    """Refuse a directory that is not a Raspberry Pi OS boot partition, and a card set up for
    another node or by another tool, unless forced. Changes nothing."""
    if not boot.is_dir():
        raise ProvisioningError(f"BOOT={boot} is not a directory: mount the SD card's boot partition and give its path")
    for name in ("cmdline.txt", "config.txt"):
        if not (boot / name).is_file():
            raise ProvisioningError(f"{boot} has no {name}: it is not a Raspberry Pi OS boot partition")
    if force:
        return
    flashed = _flashed_node(boot)
    if flashed is not None and flashed != node:
        raise ProvisioningError(f"{boot} holds the first boot of node {flashed}; FORCE=1 to replace it with {node}'s")
    user_data = boot / "user-data"
    if flashed is None and user_data.exists() and cloud_init.MARK not in user_data.read_text(errors="replace"):
        raise ProvisioningError(
            f"{user_data} was not written by `make flash` (Raspberry Pi Imager?); FORCE=1 to replace it"
        )


def build_firmware(out: Path) -> Path:
    """The node package as a wheel, built from this source tree. Reproducible: the same source
    gives the same bytes, so flashing twice writes the same card."""
    if not (SOURCE / "setup.cfg").exists():
        raise ProvisioningError(f"`make flash` builds the firmware from the source tree; {SOURCE} is not one")
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}
    # setuptools copies into build/ and packs what is there: a module deleted from the
    # source would otherwise still ship.
    shutil.rmtree(SOURCE / "build", ignore_errors=True)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(SOURCE)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    wheels = sorted(out.glob("storeedge-*.whl"))
    if done.returncode != 0 or len(wheels) != 1:
        raise ProvisioningError(f"building the firmware package failed:\n{done.stderr.strip()}")
    return wheels[0]


def _cmdline(line: str, instance_id: str) -> str:
    words = [
        word for word in line.split() if not word.startswith(_SERIAL_CONSOLES) and not word.startswith("ds=nocloud")
    ]
    # As Raspberry Pi Imager does: without it cloud-init's cache is invalidated every boot.
    return " ".join([*words, f"ds=nocloud;i={instance_id}"]) + "\n"


def _config_txt(text: str, lines: tuple[str, ...]) -> str:
    kept: list[str] = []
    inside = False
    for line in text.splitlines():
        if line.strip() == CONFIG_BEGIN:
            inside = True
        elif line.strip() == CONFIG_END:
            inside = False
        elif not inside:
            kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    return "\n".join([*kept, "", CONFIG_BEGIN, "[all]", *lines, CONFIG_END]) + "\n"


def write_boot(boot: Path, first: FirstBoot, wheel: Path, config_lines: tuple[str, ...]) -> None:
    firmware = boot / cloud_init.FIRMWARE_DIR
    firmware.mkdir(exist_ok=True)
    for old in firmware.glob("*.whl"):
        if old.name != wheel.name:
            old.unlink()
    write_file_atomic(firmware / wheel.name, wheel.read_bytes(), 0o644)
    write_file_atomic(boot / "user-data", first.user_data.encode(), 0o600)
    write_file_atomic(boot / "network-config", first.network_config.encode(), 0o644)
    write_file_atomic(boot / "meta-data", first.meta_data.encode(), 0o644)
    cmdline = boot / "cmdline.txt"
    write_file_atomic(cmdline, _cmdline(cmdline.read_text(), first.instance_id).encode(), 0o644)
    config = boot / "config.txt"
    write_file_atomic(config, _config_txt(config.read_text(), config_lines).encode(), 0o644)


def update_broker(site: Site) -> str:
    """Rewrite the broker's password file and ACL from the registry and have a running broker
    reread them."""
    if not (site.broker / "mosquitto.conf").exists():
        return "no broker config in the site yet: `make broker-config` writes it with this node in it"
    write_broker_credentials(site.broker, load_registry(site.registry))
    try:
        pids = reload_running_broker(site.broker / "mosquitto.conf")
    except PermissionError as error:
        return f"broker passwords and ACL rewritten; {error}"
    if not pids:
        return f"broker passwords and ACL rewritten; no running broker uses {site.broker / 'mosquitto.conf'}"
    return f"broker passwords and ACL rewritten and reloaded (mosquitto pid {', '.join(map(str, pids))})"


def flash_node(
    site: Site,
    node: str,
    role: Role,
    boot: Path,
    force: bool = False,
    backend: str | None = None,
    broker_host: str | None = None,
    ssh_keys: list[str] | None = None,
    shelf: str | None = None,
) -> list[str]:
    """Register `node` (its key made if new), build the firmware and write the card's first boot.
    `backend` other than the board's (`sim`) is for trying a card's files on a PC."""
    if role not in BOARDS:
        raise ProvisioningError(f"no board is defined for role {role} ({', '.join(map(str, BOARDS))})")
    board = BOARDS[role]
    check_boot(boot, node, force)
    with tempfile.TemporaryDirectory(prefix="storeedge-wheel-") as out:
        wheel = build_firmware(Path(out))
        backend = backend or board.backend
        report = add_node(
            site,
            node,
            role,
            broker_host,
            backend=backend,
            shelf=shelf,
            hardware=board.hardware if backend == board.backend else {},
            console=CONSOLE_PORT,
        )
        report.append(update_broker(site))
        directory = site.node_dir(node)
        files = [
            NodeFile(path.name, path.read_text())
            for path in sorted(directory.iterdir())
            if path.is_file() and not path.name.endswith(".tmp")
        ]
        firmware = Firmware(wheel.name, hashlib.sha256(wheel.read_bytes()).hexdigest())
        first = cloud_init.first_boot(node, board, files, firmware, UNIT_TEMPLATE.read_text(), ssh_keys or [])
        write_boot(boot, first, wheel, board.config_txt)
    report.append(f"wrote {node}'s first boot ({first.instance_id}) and {wheel.name} to {boot}")
    return report


def flash_mcu(port: str, mpremote: str | None = None) -> list[str]:
    """Put the shelf board's firmware on it as main.py and reset it, with mpremote."""
    binary = mpremote or shutil.which("mpremote", path=str(Path(sys.executable).parent)) or shutil.which("mpremote")
    if binary is None:
        raise ProvisioningError("mpremote is not installed: `make install` puts it in the virtualenv")
    if not Path(port).exists():
        raise ProvisioningError(f"{port} does not exist: is the board plugged in (ls /dev/ttyACM* /dev/serial/by-id)?")
    steps = ["connect", port, "fs", "cp", str(MCU_FIRMWARE), ":main.py", "+", "reset"]
    done = subprocess.run([binary, *steps], capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise ProvisioningError(
            f"mpremote could not flash {port}: {said[-1] if said else f'exit status {done.returncode}'}. "
            "Is MicroPython on the board? A new Pico needs its MicroPython UF2 first (hold BOOTSEL, plug it in, "
            "copy the UF2 onto the drive that appears)"
        )
    return [f"{MCU_FIRMWARE.name} written to the board on {port} as main.py; the board has been reset"]

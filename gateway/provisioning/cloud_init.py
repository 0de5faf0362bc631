"""A node's first boot as cloud-init reads it from a Raspberry Pi OS boot partition:
`user-data` (#cloud-config), `network-config` (version 2) and `meta-data`.

Pure: the node's files, its board and the firmware's name in, the three documents out.
"""

import hashlib
import shlex
from dataclasses import dataclass
from string import Template

import yaml

from hw.boards import Board

DEVICE_BOOT = "/boot/firmware"  # where Raspberry Pi OS mounts the boot partition
FIRMWARE_DIR = "storeedge"  # on the boot partition: the package and its checksum
HOME = "/var/lib/storeedge"  # the node's config, keys and state (systemd's ReadWritePaths)
VENV = "/opt/storeedge/venv"
USER = "storeedge"
UNIT = "/etc/systemd/system/storenode.service"
UDEV_RULES = "/etc/udev/rules.d/90-storeedge.rules"
HEADER = "#cloud-config\n"
MARK = "# storeedge first boot"  # how a later `make flash` knows the partition is ours
SPENT = f"{HEADER}{MARK}: done, the keys were removed from the boot partition\n"


@dataclass(frozen=True, slots=True)
class NodeFile:
    name: str  # relative to the node's home
    text: str


@dataclass(frozen=True, slots=True)
class Firmware:
    wheel: str  # file name, in FIRMWARE_DIR on the boot partition
    sha256: str


@dataclass(frozen=True, slots=True)
class FirstBoot:
    node: str
    user_data: str
    network_config: str

    @property
    def instance_id(self) -> str:
        """Changes with what the first boot does, so a re-flashed card runs it again, and
        stays put when the same node is flashed with the same files."""
        digest = hashlib.sha256((self.user_data + self.network_config).encode()).hexdigest()[:12]
        return f"storeedge-{self.node}-{digest}"

    @property
    def meta_data(self) -> str:
        return _dump({"instance-id": self.instance_id, "local-hostname": self.node})


class _Dumper(yaml.SafeDumper):
    """Files' contents as literal blocks, so an installer can read what goes onto the card."""


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|" if "\n" in data else None)


_Dumper.add_representer(str, _represent_str)


def _dump(document: object) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1000)


def _unit(template: str, board: Board, node: str) -> str:
    return Template(template).substitute(
        role=board.role,
        node=node,
        user=USER,
        groups=" ".join(board.groups),
        home=HOME,
        venv=VENV,
    )


def first_boot(
    node: str,
    board: Board,
    files: list[NodeFile],
    firmware: Firmware,
    unit_template: str,
    ssh_keys: list[str],
) -> FirstBoot:
    """`ssh_keys`: public keys for an `installer` account with sudo; none, no login at all
    (the technicians' console is on the UART)."""
    wheel = f"{DEVICE_BOOT}/{FIRMWARE_DIR}/{firmware.wheel}"
    write_files: list[dict[str, object]] = [
        {
            "path": f"{HOME}/{f.name}",
            "content": f.text,
            "owner": f"{USER}:{USER}",
            # the node's own files, secret or not, are nobody else's (as on the site: filemodes)
            "permissions": "0600",
            # After the users and packages exist: the owner must.
            "defer": True,
        }
        for f in files
    ]
    write_files.append(
        {"path": UNIT, "content": _unit(unit_template, board, node), "permissions": "0644", "defer": True}
    )
    if board.udev_rules:
        write_files.append(
            {"path": UDEV_RULES, "content": "\n".join(board.udev_rules) + "\n", "permissions": "0644", "defer": True}
        )
    users: list[object] = [
        {
            "name": USER,
            "system": True,
            "homedir": HOME,
            "shell": "/usr/sbin/nologin",
            "groups": ", ".join(board.groups),
            "lock_passwd": True,
        }
    ]
    if ssh_keys:
        users.append(
            {
                "name": "installer",
                "groups": "sudo",
                "shell": "/bin/bash",
                "sudo": "ALL=(ALL) NOPASSWD:ALL",
                "lock_passwd": True,
                "ssh_authorized_keys": ssh_keys,
            }
        )
    runcmd: list[object] = [
        # runcmd is one shell script: a firmware that fails its checksum must stop it, and
        # whatever way it ends, the keys leave the FAT boot partition every local user reads.
        "set -e",
        f"trap {shlex.quote(f'printf %s {shlex.quote(SPENT)} > {DEVICE_BOOT}/user-data; sync')} EXIT",
        ["sh", "-c", f"echo '{firmware.sha256}  {wheel}' | sha256sum --check --strict"],
        ["python3", "-m", "venv", "--system-site-packages", VENV],
        [f"{VENV}/bin/pip", "install", "--no-cache-dir", f"{wheel}[{board.extra}]" if board.extra else wheel],
        ["install", "-d", "-o", USER, "-g", USER, "-m", "0750", HOME],
        ["chown", "-R", f"{USER}:{USER}", HOME],
        ["udevadm", "control", "--reload"],
        ["udevadm", "trigger", "--subsystem-match=tty"],
        ["systemctl", "daemon-reload"],
        ["systemctl", "enable", "--now", "storenode.service"],
    ]
    if ssh_keys:
        runcmd.append(["systemctl", "enable", "--now", "ssh"])
    user_data = {
        "hostname": node,
        "manage_etc_hosts": True,
        "ssh_pwauth": False,
        "disable_root": True,
        "users": users,
        # A Pi has no clock battery: before time sync, apt would refuse the archive's dates.
        "apt": {"conf": 'Acquire::Check-Date "false";\n'},
        "package_update": True,
        "packages": list(board.apt_packages),
        "write_files": write_files,
        "runcmd": runcmd,
    }
    network = {"network": {"version": 2, "ethernets": {"eth0": {"dhcp4": True, "optional": False}}}}
    return FirstBoot(
        node=node,
        user_data=f"{HEADER}{MARK} of {board.role} node {node}, written by `make flash`.\n"
        "# It holds the node's private key and broker password until the first boot removes them.\n" + _dump(user_data),
        network_config=_dump(network),
    )

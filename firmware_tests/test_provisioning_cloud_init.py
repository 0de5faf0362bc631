"""gateway/provisioning/cloud_init.py: a node's first boot, checked by cloud-init's own tools
(Debian's cloud-init package, which `make test` installs)."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from edge.protocol.roles import Role
from gateway.provisioning.cloud_init import HOME, MARK, SPENT, UNIT, Firmware, FirstBoot, NodeFile, first_boot
from gateway.provisioning.flash import UNIT_TEMPLATE
from hw.boards import BOARDS

FILES = [
    NodeFile("node.toml", 'node = "gate-1"\nrole = "gate"\n'),
    NodeFile("device.key", "not-a-real-key\n"),
    NodeFile("mqtt.pass", "not-a-real-password\n"),
    NodeFile("gateway.key.pub", "public\n"),
]
FIRMWARE = Firmware("storeedge-0.1.0-py3-none-any.whl", "ab" * 32)


@pytest.fixture
def cloud_init() -> str:
    binary = shutil.which("cloud-init")
    assert binary is not None, "cloud-init is not installed: `make test` installs it (apt-get install cloud-init)"
    return binary


def boot_for(role: Role, ssh_keys: list[str] | None = None) -> FirstBoot:
    return first_boot("gate-1", BOARDS[role], FILES, FIRMWARE, UNIT_TEMPLATE.read_text(), ssh_keys or [])


def written(first: FirstBoot) -> dict[str, dict[str, object]]:
    document = yaml.safe_load(first.user_data)
    return {entry["path"]: entry for entry in document["write_files"]}


@pytest.mark.parametrize("role", sorted(BOARDS))
def test_cloud_init_accepts_the_user_data_of_every_role(role: Role, tmp_path: Path, cloud_init: str) -> None:
    user_data = tmp_path / "user-data"
    user_data.write_text(boot_for(role, ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample installer@laptop"]).user_data)
    done = subprocess.run([cloud_init, "schema", "--config-file", str(user_data)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Valid cloud-config" in done.stdout


def test_the_validator_does_refuse_a_wrong_user_data(tmp_path: Path, cloud_init: str) -> None:
    """The check above can fail: the same validator on a broken document."""
    document = yaml.safe_load(boot_for(Role.GATE).user_data)
    document["write_files"][0]["permissions"] = 600
    user_data = tmp_path / "user-data"
    user_data.write_text("#cloud-config\n" + yaml.safe_dump(document))
    done = subprocess.run([cloud_init, "schema", "--config-file", str(user_data)], capture_output=True, text=True)
    assert done.returncode != 0
    assert "permissions" in done.stdout + done.stderr


def test_cloud_init_renders_the_network_config_for_network_manager(tmp_path: Path, cloud_init: str) -> None:
    network = tmp_path / "network-config"
    network.write_text(boot_for(Role.SHELF).network_config)
    out = tmp_path / "out"
    done = subprocess.run(
        [cloud_init, "devel", "net-convert", "-p", str(network), "-k", "yaml", "-d", str(out), "-D", "debian"]
        + ["-O", "network-manager"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    (connection,) = (out / "etc/NetworkManager/system-connections").glob("*eth0*")
    text = connection.read_text()
    assert "interface-name=eth0" in text
    assert "method=auto" in text


def test_the_nodes_files_are_0600_and_belong_to_the_service_user_after_it_exists() -> None:
    files = written(boot_for(Role.GATE))
    for name in ("device.key", "mqtt.pass", "node.toml", "gateway.key.pub"):
        assert files[f"{HOME}/{name}"]["permissions"] == "0600", "secret or not, nobody else's"
        assert files[f"{HOME}/{name}"]["owner"] == "storeedge:storeedge"
        assert files[f"{HOME}/{name}"]["content"] == next(f.text for f in FILES if f.name == name)
    assert all(entry["defer"] is True for entry in files.values())


def test_the_unit_is_a_notify_service_with_a_watchdog_for_the_role() -> None:
    unit = str(written(boot_for(Role.GATE))[UNIT]["content"])
    assert "Type=notify" in unit
    assert "WatchdogSec=" in unit
    assert "Restart=always" in unit
    assert f"ExecStart=/opt/storeedge/venv/bin/storenode --config {HOME}/node.toml run" in unit
    assert "SupplementaryGroups=gpio dialout" in unit
    assert "$" not in unit, "every template field is filled in"


def test_the_first_boot_checks_the_firmware_installs_the_role_extra_and_removes_the_keys_last() -> None:
    runcmd = yaml.safe_load(boot_for(Role.CAMERA).user_data)["runcmd"]
    assert runcmd[0] == "set -e", "a failed step stops the first boot"
    assert runcmd[1].startswith("trap ")
    check = " ".join(runcmd[2])
    assert f"{FIRMWARE.sha256}  /boot/firmware/storeedge/{FIRMWARE.wheel}" in check
    assert "sha256sum --check" in check
    assert any(f"/boot/firmware/storeedge/{FIRMWARE.wheel}[camera]" in step for step in runcmd[4])
    assert runcmd[-1] == ["systemctl", "enable", "--now", "storenode.service"]


@pytest.mark.parametrize("last", ["true", "false"])
def test_the_keys_leave_the_boot_partition_however_the_first_boot_ends(tmp_path: Path, last: str) -> None:
    """The script's first two lines, run by sh with the boot partition moved to a temporary
    directory, then a last step that succeeds or fails."""
    runcmd = yaml.safe_load(boot_for(Role.GATE).user_data)["runcmd"]
    (tmp_path / "user-data").write_text("#cloud-config\nsecret: yes\n")
    script = "\n".join([runcmd[0], runcmd[1].replace("/boot/firmware", str(tmp_path)), last, "echo after"])
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True)
    assert done.returncode == (0 if last == "true" else 1)
    assert ("after" in done.stdout) == (last == "true"), "set -e stops at the failed step"
    assert (tmp_path / "user-data").read_text() == SPENT


def test_the_spent_user_data_is_still_valid_and_still_marked() -> None:
    assert SPENT.startswith("#cloud-config\n")
    assert MARK in SPENT
    assert yaml.safe_load(SPENT) is None


def test_the_instance_id_follows_the_contents() -> None:
    first, again = boot_for(Role.SHELF), boot_for(Role.SHELF)
    assert first.instance_id == again.instance_id
    assert first.instance_id.startswith("storeedge-gate-1-")
    other = first_boot("gate-1", BOARDS[Role.SHELF], FILES[:2], FIRMWARE, UNIT_TEMPLATE.read_text(), [])
    assert other.instance_id != first.instance_id
    assert yaml.safe_load(first.meta_data) == {"instance-id": first.instance_id, "local-hostname": "gate-1"}


def test_an_installer_login_only_with_a_key() -> None:
    assert [user["name"] for user in yaml.safe_load(boot_for(Role.GATE).user_data)["users"]] == ["storeedge"]
    assert ["systemctl", "enable", "--now", "ssh"] not in yaml.safe_load(boot_for(Role.GATE).user_data)["runcmd"]
    assert ["systemctl", "enable", "--now", "ssh"] in yaml.safe_load(boot_for(Role.GATE, ["k"]).user_data)["runcmd"]
    users = yaml.safe_load(boot_for(Role.GATE, ["ssh-ed25519 AAAA x"]).user_data)["users"]
    installer = users[1]
    assert installer["ssh_authorized_keys"] == ["ssh-ed25519 AAAA x"]
    assert installer["lock_passwd"] is True

"""gateway/provisioning/cli.py: `storeprov` run in process, with its exit codes and output."""

import re
import stat
from pathlib import Path

import pytest

from edge.runtime.config import load_node_config
from gateway.provisioning.cli import main
from gateway.provisioning.site import Site
from gateway.registry import load_registry
from upstream.home import UpstreamHome
from upstream.provision import add_store, init_upstream

FINGERPRINT = re.compile(r"SHA256:[A-Za-z0-9+/]{43}")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as leaving:
        code = leaving.code if isinstance(leaving.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def private_texts(site: Site) -> list[str]:
    paths = [site.gateway_key, *site.root.glob("nodes/*/device.key")]
    return [path.read_text().strip() for path in paths]


def kit(tmp_path: Path, store: str = "s") -> str:
    home = UpstreamHome(tmp_path / "upstream")
    init_upstream(home, "127.0.0.1", 18840)
    add_store(home, store)
    return str(home.kit(store).root)


def test_init_add_node_broker_config_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = str(tmp_path / "site")
    site = Site(tmp_path / "site")
    outputs: list[str] = []

    code, out, err = run(
        capsys, "--site", root, "init", "--store", "s", "--broker-port", "18830", "--upstream-kit", kit(tmp_path)
    )
    assert (code, err) == (0, "")
    assert len(FINGERPRINT.findall(out)) == 3
    outputs.append(out)

    code, out, err = run(capsys, "--site", root, "add-node", "n1", "shelf")
    assert (code, err) == (0, "")
    device = load_registry(site.registry).get("n1")
    assert device is not None
    assert FINGERPRINT.findall(out) == [device.fingerprint]
    outputs.append(out)

    code, out, err = run(capsys, "--site", root, "broker-config", "--run-as", "nobody")
    assert (code, err) == (0, "")
    assert "1 devices" in out
    assert "120000" in out
    assert (site.broker / "mosquitto.conf").exists()
    assert "listener 18830 127.0.0.1" in (site.broker / "mosquitto.conf").read_text()
    conf = (site.broker / "mosquitto.conf").read_text()
    assert "user nobody" in conf
    assert "address 127.0.0.1:18840" in conf and "remote_username store-s" in conf
    assert "topic store/s/upstream/out/# out 1" in conf and "topic store/s/upstream/in/# in 1" in conf
    # the bridge password is in it: Mosquitto's group reads it, nobody else
    assert stat.S_IMODE((site.broker / "mosquitto.conf").stat().st_mode) == 0o640
    outputs.append(out)

    code, out, err = run(capsys, "--site", root, "show")
    assert (code, err) == (0, "")
    registry = load_registry(site.registry)
    assert registry.gateway is not None
    assert out.splitlines()[0] == "store s"
    assert FINGERPRINT.findall(out) == [registry.gateway.fingerprint, device.fingerprint]
    assert re.search(r"^n1\s+shelf\s+SHA256:", out, re.MULTILINE)
    outputs.append(out)

    for secret in private_texts(site):
        for printed in outputs:
            assert secret not in printed
            assert secret.rstrip("=") not in printed


def test_rerunning_init_and_add_node_keeps_fingerprints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = str(tmp_path / "site")
    _, first_init, _ = run(capsys, "--site", root, "init", "--store", "s", "--upstream-kit", kit(tmp_path))
    _, first_node, _ = run(capsys, "--site", root, "add-node", "cam-2", "camera")
    code, second_init, _ = run(capsys, "--site", root, "init", "--store", "s", "--upstream-kit", kit(tmp_path))
    assert code == 0
    assert FINGERPRINT.findall(second_init) == FINGERPRINT.findall(first_init)
    code, second_node, _ = run(capsys, "--site", root, "add-node", "cam-2", "camera")
    assert code == 0
    assert FINGERPRINT.findall(second_node) == FINGERPRINT.findall(first_node)


def test_a_camera_is_added_watching_the_shelf_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = str(tmp_path / "site")
    run(capsys, "--site", root, "init", "--store", "s", "--upstream-kit", kit(tmp_path))
    code, _, _ = run(capsys, "--site", root, "add-node", "cam-3", "camera", "--shelf", "shelf-09")
    assert code == 0
    config, _ = load_node_config(Site(Path(root)).node_dir("cam-3") / "node.toml")
    assert config.camera is not None and config.camera.shelf == "shelf-09"
    code, _, err = run(capsys, "--site", root, "add-node", "shelf-09", "shelf", "--shelf", "shelf-09")
    assert code == 2 and "only camera nodes" in err


def test_add_node_before_init_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--site", str(tmp_path / "nowhere"), "add-node", "n1", "shelf")
    assert code == 2
    assert out == ""
    assert err.startswith("storeprov: ")
    assert "not an initialised site" in err


def test_bad_role_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = str(tmp_path / "site")
    run(capsys, "--site", root, "init", "--store", "s", "--upstream-kit", kit(tmp_path))
    code, out, err = run(capsys, "--site", root, "add-node", "n1", "gateway")
    assert code == 2
    assert out == ""
    assert "invalid choice" in err
    assert load_registry(Site(tmp_path / "site").registry).get("n1") is None


def test_role_change_without_force_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = str(tmp_path / "site")
    run(capsys, "--site", root, "init", "--store", "s", "--upstream-kit", kit(tmp_path))
    run(capsys, "--site", root, "add-node", "n1", "shelf")
    code, out, err = run(capsys, "--site", root, "add-node", "n1", "gate")
    assert code == 2
    assert out == ""
    assert "registered as shelf" in err
    code, out, err = run(capsys, "--site", root, "add-node", "n1", "gate", "--force")
    assert (code, err) == (0, "")


def test_init_for_another_store_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = str(tmp_path / "site")
    run(capsys, "--site", root, "init", "--store", "s", "--upstream-kit", kit(tmp_path))
    code, _, err = run(capsys, "--site", root, "init", "--store", "t", "--upstream-kit", kit(tmp_path, "t"))
    assert code == 2
    assert "storeprov:" in err


@pytest.mark.parametrize("command", ["show", "broker-config"])
def test_commands_on_a_missing_site_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str) -> None:
    code, out, err = run(capsys, "--site", str(tmp_path / "nowhere"), command)
    assert code == 2
    assert out == ""
    assert err.startswith("storeprov: ")


def test_missing_command_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys)
    assert code == 2
    assert "usage" in err


def test_flash_and_decommission_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rpi_boot: Path
) -> None:
    site = str(tmp_path / "site")
    assert run(capsys, "--site", site, "init", "--store", "s", "--upstream-kit", kit(tmp_path))[0] == 0
    assert run(capsys, "--site", site, "broker-config")[0] == 0
    ssh = tmp_path / "installer.pub"
    ssh.write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample installer@laptop\n")
    code, out, err = run(
        capsys, "--site", site, "flash", "gate-01", "gate", "--boot", str(rpi_boot), "--ssh-key", str(ssh)
    )
    assert code == 0, err
    assert "broker passwords and ACL rewritten; no running broker uses" in out
    assert "wrote gate-01's first boot" in out
    assert "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample" in (rpi_boot / "user-data").read_text()
    assert not any(secret in out + err for secret in private_texts(Site(Path(site))))
    assert "gate-01" in (Path(site) / "broker" / "passwd").read_text()
    code, out, err = run(capsys, "--site", site, "flash", "gate-02", "gate", "--boot", str(rpi_boot))
    assert code == 2 and "FORCE=1" in err
    code, out, err = run(capsys, "--site", site, "decommission", "gate-01")
    assert code == 0, err
    assert "revoked SHA256:" in out
    assert "gate-01" not in (Path(site) / "broker" / "passwd").read_text()
    assert "gate-01" not in (Path(site) / "broker" / "acl").read_text()
    code, out, err = run(capsys, "--site", site, "decommission", "gate-01")
    assert code == 2 and "gate-01 is not a registered device" in err


def test_flash_mcu_names_a_missing_port(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "flash-mcu", "--port", str(tmp_path / "ttyACM9"))
    assert code == 2
    assert "does not exist: is the board plugged in" in err


def test_service_pin_shows_the_pin_a_node_was_given(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = str(tmp_path / "site")
    assert run(capsys, "--site", site, "init", "--store", "s", "--upstream-kit", kit(tmp_path))[0] == 0
    code, out, err = run(capsys, "--site", site, "add-node", "shelf-01", "shelf")
    assert code == 0, err
    assert (Site(Path(site)).service_pin("shelf-01").read_text().strip()) not in out, "add-node does not print it"
    code, out, err = run(capsys, "--site", site, "service-pin", "shelf-01")
    assert code == 0 and out.strip() == Site(Path(site)).service_pin("shelf-01").read_text().strip()
    code, out, err = run(capsys, "--site", site, "service-pin", "shelf-99")
    assert code == 2 and "no service PIN" in err

"""`storenode`: identity without secrets, and clear refusals for bad config, keys or state."""

import subprocess
import sys
from pathlib import Path

import pytest

from edge.protocol.configfile import ConfigError
from edge.protocol.keys import fingerprint, load_signing_key
from edge.protocol.roles import Role
from edge.runtime import roles
from firmware_tests.conftest import no_gateway_wait
from hw.sim.site import build_site

REPO = Path(__file__).resolve().parents[1]


def storenode(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge.runtime.cli", "--config", str(config), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_info_shows_the_fingerprint_and_never_the_private_key(tmp_path: Path) -> None:
    site = build_site(tmp_path / "site", "test", [("shelf-01", Role.SHELF)], 1883)
    node_dir = site.node_dir("shelf-01")
    result = storenode(node_dir / "node.toml", "info")
    assert result.returncode == 0, result.stderr
    key = load_signing_key(node_dir / "device.key")
    assert fingerprint(bytes(key.verify_key)) in result.stdout
    secret = (node_dir / "device.key").read_text().strip()
    assert secret not in result.stdout + result.stderr
    assert (node_dir / "mqtt.pass").read_text().strip() not in result.stdout + result.stderr


def test_run_refuses_bad_config_missing_key_and_unreadable_boot_state(tmp_path: Path) -> None:
    site = build_site(tmp_path / "site", "test", [("shelf-01", Role.SHELF)], 1883)
    node_dir = site.node_dir("shelf-01")
    config = node_dir / "node.toml"
    typo = tmp_path / "typo.toml"
    typo.write_text(config.read_text().replace("state_dir", "state_dri"))
    result = storenode(typo, "info")
    assert result.returncode == 2 and "state_dri" in result.stderr

    (node_dir / "state").mkdir()
    (node_dir / "state" / "boot.json").write_text("{not json")
    result = storenode(config, "info")
    assert result.returncode == 2 and "boot state unreadable" in result.stderr

    (node_dir / "device.key").chmod(0o644)
    result = storenode(config, "info")
    assert result.returncode == 2 and "chmod 600" in result.stderr


def test_run_says_what_a_role_app_lacks_in_its_config(tmp_path: Path) -> None:
    site = build_site(tmp_path / "site", "test", [("gate-01", Role.GATE)], 1883)
    config = site.node_dir("gate-01") / "node.toml"
    text = config.read_text()
    assert '[gate]\nname = "gate-01"\n' in text
    config.write_text(text.replace('[gate]\nname = "gate-01"\n', ""))
    no_gateway_wait(config)
    result = storenode(config, "run")
    assert result.returncode == 2 and "needs a [gate] table" in result.stderr


def test_a_role_app_whose_extra_is_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(roles._APPS, Role.GATE, ("edge.no_such_module", "run", "gate"))
    with pytest.raises(ConfigError, match=r"storeedge\[gate\]"):
        roles.role_app(Role.GATE)

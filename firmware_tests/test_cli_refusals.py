"""Bad input on the command line: each command refuses it with one line on stderr and exit
status 2, before it changes anything on disk (issue 20, item 8)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.layout import SMALL_STORE
from hw.sim.demo import MARKER, claim_root
from hw.sim.null_modem import NullModem
from hw.sim.site import build_site, upstream_home_of

REPO = Path(__file__).resolve().parents[1]


def snapshot(root: Path) -> dict[str, tuple[int, int, bytes | None]]:
    """Every file and folder under `root`: mode, modification time and content."""
    found = {}
    for path in [root, *root.rglob("*")]:
        info = path.lstat()
        content = path.read_bytes() if path.is_file() and not path.is_symlink() else None
        found[str(path.relative_to(root))] = (info.st_mode, info.st_mtime_ns, content)
    return found


def refused(root: Path, *argv: str) -> str:
    """Run a command-line tool as a user does; assert it refused with one line and touched
    nothing under `root`; return that line."""
    before = snapshot(root)
    done = subprocess.run(
        [sys.executable, "-m", *argv], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert snapshot(root) == before
    return lines[0]


def test_replay_of_a_missing_file_or_a_folder(tmp_path: Path) -> None:
    (tmp_path / "a-folder").mkdir()
    for name in ("no-such.jsonl", "a-folder"):
        line = refused(tmp_path, "gateway.cli", "replay", "--layout", str(SMALL_STORE), str(tmp_path / name))
        assert line.startswith(f"storegw: {tmp_path / name}: ")


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--baud", "-5"], "--baud"),
        (["--baud", "0"], "--baud"),
        (["--timeout", "-1"], "--timeout"),
        (["--timeout", "0"], "--timeout"),
        (["--timeout", "nan"], "--timeout"),
    ],
)
def test_storediag_refuses_a_baud_or_timeout_no_link_has(tmp_path: Path, options: list[str], named: str) -> None:
    """On a real port (a cable with nothing at the other end), so only the option can be wrong."""
    modem = NullModem(tmp_path / "node", tmp_path / "laptop").plug()
    try:
        line = refused(tmp_path / "laptop", "edge.diag.cli", "--port", str(tmp_path / "laptop"), *options, "status")
    finally:
        modem.close()
    assert line.startswith(f"storediag: {named} ")


@pytest.mark.parametrize("every", ["-1", "0"])
def test_storediag_watch_refuses_a_period_that_is_no_period(tmp_path: Path, every: str) -> None:
    modem = NullModem(tmp_path / "node", tmp_path / "laptop").plug()
    try:
        line = refused(
            tmp_path / "laptop", "edge.diag.cli", "--port", str(tmp_path / "laptop"), "watch", "--every", every
        )
    finally:
        modem.close()
    assert line.startswith("storediag: --every ")


@pytest.fixture
def kit(tmp_path: Path) -> Path:
    """An upstream and its kit for store s1, outside the site under test."""
    home = tmp_path / "upstream"
    for argv in (["init"], ["add-store", "s1"]):
        assert (
            subprocess.run([sys.executable, "-m", "upstream.cli", "--home", str(home), *argv], cwd=REPO).returncode == 0
        )
    return home / "stores" / "s1"


@pytest.mark.parametrize("port", ["99999", "-1", "0"])
def test_init_refuses_a_broker_port_no_broker_has(tmp_path: Path, kit: Path, port: str) -> None:
    site = tmp_path / "site"
    site.mkdir()
    argv = ["gateway.provisioning.cli", "--site", str(site), "init", "--store", "s1", "--upstream-kit", str(kit)]
    line = refused(tmp_path, *argv, "--broker-port", port)
    assert line == f"storeprov: broker port {port} is not a TCP port (1-65535)"


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--bind", "not an address"], "storeprov: --bind 'not an address' is neither an IP address nor a host name"),
        (["--run-as", "nosuchuser"], "storeprov: --run-as nosuchuser: no such user on this machine"),
    ],
)
def test_broker_config_refuses_an_address_or_user_mosquitto_cannot_use(
    tmp_path: Path, options: list[str], expected: str
) -> None:
    site = build_site(tmp_path / "site", "s1", [], 18830)
    line = refused(tmp_path, "gateway.provisioning.cli", "--site", str(site.root), "broker-config", *options)
    assert line == expected


@pytest.mark.parametrize("options", [["--bind", "not an address"], ["--run-as", "nosuchuser"]])
def test_upstream_broker_config_refuses_them_too(tmp_path: Path, options: list[str]) -> None:
    home = upstream_home_of(build_site(tmp_path / "site", "s1", [], 18830))
    line = refused(tmp_path, "upstream.cli", "--home", str(home.root), "broker-config", *options)
    assert line.startswith("storeup: ")


@pytest.mark.parametrize("node", ["-", "-1"])  # "-x" argparse takes for an option
def test_add_node_refuses_an_id_that_starts_with_a_dash(tmp_path: Path, node: str) -> None:
    site = build_site(tmp_path / "site", "s1", [], 18830)
    line = refused(tmp_path, "gateway.provisioning.cli", "--site", str(site.root), "add-node", node, "shelf")
    assert (
        line
        == f"storeprov: node id {node!r} must be 1-64 characters of a-z, 0-9 and '-', starting with a letter or digit"
    )


def test_the_demo_refuses_a_folder_it_did_not_make(tmp_path: Path) -> None:
    root = tmp_path / "someones"
    root.mkdir()
    (root / "thesis.tex").write_text("four years of work")
    line = refused(tmp_path, "hw.sim.demo", "--root", str(root))
    assert line.startswith(f"hw.sim.demo: {root} ")
    (tmp_path / "a-file").write_text("not a folder")
    refused(tmp_path, "hw.sim.demo", "--root", str(tmp_path / "a-file"))


def test_the_demo_takes_a_new_an_empty_or_its_own_folder(tmp_path: Path) -> None:
    assert claim_root(tmp_path / "new") is None
    (tmp_path / "empty").mkdir()
    assert claim_root(tmp_path / "empty") is None
    ours = tmp_path / "ours"
    (ours / "site").mkdir(parents=True)
    (ours / MARKER).write_text("")
    assert claim_root(ours) is None
    os.remove(ours / MARKER)
    assert claim_root(ours) is not None
    # what `make demo` left in var/demo before the marker existed
    (ours / "consoles").mkdir()
    (ours / "gateway.log").write_text("")
    assert claim_root(ours) is None
    (ours / "thesis.tex").write_text("someone's")
    assert claim_root(ours) is not None


@pytest.mark.parametrize("port", ["99999", "0"])
def test_upstream_init_refuses_a_broker_port_no_broker_has(tmp_path: Path, port: str) -> None:
    line = refused(tmp_path, "upstream.cli", "--home", str(tmp_path / "upstream"), "init", "--broker-port", port)
    assert line == f"storeup: broker port {port} is not a TCP port (1-65535)"

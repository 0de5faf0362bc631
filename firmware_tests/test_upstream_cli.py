"""upstream/cli.py: `storeup` run in process, with its exit codes and output."""

from pathlib import Path

import pytest

from edge.protocol.clock import wall_ms
from edge.protocol.keys import load_verify_key, public_path
from edge.protocol.qr_token import verify
from upstream.cli import main
from upstream.home import UpstreamHome


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_init_link_token_and_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = UpstreamHome(tmp_path / "up")
    root = str(home.root)
    code, out, err = run(capsys, "--home", root, "init", "--broker-port", "18841")
    assert (code, err) == (0, "") and out.count("SHA256:") == 2
    assert run(capsys, "--home", root, "add-store", "s1")[0] == 0
    assert home.kit("s1").bridge.exists()
    code, out, _ = run(capsys, "--home", root, "token", "--account", "acct-7", "--purpose", "enroll", "--ttl-s", "60")
    assert code == 0
    claims = verify(out.strip(), load_verify_key(public_path(home.sign_key)), wall_ms())
    assert (claims.account, claims.purpose) == ("acct-7", "enroll")
    assert 59_000 <= claims.expires_ms - claims.issued_ms <= 60_000
    code, out, _ = run(capsys, "--home", root, "status")
    assert (code, out) == (0, "0 enrolments of 0 accounts\n0 consents on record, 0 ended\n")
    assert run(capsys, "--home", root, "delete", "--account", "acct-7")[1] == "deleted 0 templates of acct-7\n"
    assert run(capsys, "--home", root, "purge")[1] == "purged the enrolments of 0 accounts\n"
    printed = capsys.readouterr()
    for secret in (home.sign_key, home.seal_key, home.vault_key):
        assert secret.read_text().strip() not in printed.out


def test_refusals_exit_2_with_a_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = str(tmp_path / "up")
    code, out, err = run(capsys, "--home", root, "add-store", "s1")
    assert (code, out) == (2, "") and "storeup: " in err and "storeup init" in err
    run(capsys, "--home", root, "init")
    code, _, err = run(capsys, "--home", root, "token", "--account", "a", "--ttl-s", "100000")
    assert code == 2 and "--ttl-s" in err

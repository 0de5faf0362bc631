"""`make demo` runs end to end on either broker and accounts for every event it sent."""

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_demo(root: Path, *extra: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "hw.sim.demo", "--root", str(root), "--seconds", "8", *extra],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def test_demo_on_mosquitto_survives_a_gateway_crash_with_nothing_lost(tmp_path: Path) -> None:
    output = run_demo(tmp_path / "demo")
    assert "broker: mosquitto listening on 127.0.0.1:" in output
    assert "gateway killed with SIGKILL" in output and "gateway restarted" in output
    assert "lost 0, journaled twice 0, rejected 0" in output
    sightings = re.search(r"reported the people in the aisle (\d+) times", output)
    assert sightings and int(sightings[1]) >= 20, "the camera app ran: 5 presence reports a second"
    assert re.search(r"acct-\w+'s palm: opened in \d+ ms", output), "upstream recognised an enrolled palm"
    assert "a stranger's palm: refused (not_recognised)" in output
    assert re.search(r"acct-\w+'s app code: opened in \d+ ms", output)
    assert "the same code again: refused (replayed)" in output


def test_demo_falls_back_to_amqtt_and_loses_nothing(tmp_path: Path) -> None:
    output = run_demo(tmp_path / "demo", "--amqtt")
    assert "broker: amqtt listening on 127.0.0.1:" in output
    assert "lost 0, journaled twice 0" in output
    assert re.search(r"acct-\w+'s palm: refused \(upstream_timeout\)", output), "no bridge, no decision"
    assert re.search(r"acct-\w+'s app code: opened in \d+ ms", output), "codes are checked offline"

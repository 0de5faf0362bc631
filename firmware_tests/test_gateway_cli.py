"""`storegw`: clear errors for bad input, journal inspection and export, the device table,
and the fusion replay."""

import json
import subprocess
import sys
from pathlib import Path

from edge.protocol.envelope import seal
from edge.protocol.keys import load_signing_key
from edge.protocol.messages import State, Weight, encode_message
from edge.protocol.roles import Role
from edge.protocol.topics import event_topic, state_topic
from gateway.config import load_gateway_config
from gateway.ingest import Incoming, IngestCore
from gateway.journal import Journal
from gateway.layout import SMALL_STORE, load_layout
from gateway.registry import load_registry
from gateway.verify import Verifier
from hw.sim.site import build_site
from hw.sim.world.stream import encode_lines
from hw.sim.world.suites import build_world

REPO = Path(__file__).resolve().parents[1]


def storegw(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "--config", str(config), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def journaled_site(tmp_path: Path) -> Path:
    site = build_site(tmp_path / "site", "test", [("shelf-01", Role.SHELF), ("camera-01", Role.CAMERA)], 1883)
    config, base = load_gateway_config(site.gateway_config)
    key = load_signing_key(site.node_dir("shelf-01") / "device.key")
    journal = Journal(base / config.journal)
    core = IngestCore(Verifier(load_registry(site.registry)), journal, 1024)
    batch = [
        Incoming(
            state_topic("test", "shelf-01"),
            seal(key, encode_message(State(v=1, dev="shelf-01", boot=1, seq=0, ts=1_000, state="online"))),
            1_010,
        )
    ]
    for seq in (1, 2, 3):
        weight = Weight(
            v=1, dev="shelf-01", boot=1, seq=seq, ts=1_000 + seq, shelf="shelf-01", lane=seq,
            t0=900, t1=1_000, delta_mg=-seq * 1000, before_mg=5000, after_mg=5000 - seq * 1000, noise_mg=10,
        )  # fmt: skip
        batch.append(
            Incoming(event_topic("test", "shelf-01", "weight"), seal(key, encode_message(weight)), 1_020 + seq)
        )
    batch.append(Incoming(event_topic("test", "shelf-01", "weight"), b"\x00" * 80, 1_030))
    core.process(batch)
    journal.close()
    return site.gateway_config


def test_missing_or_broken_config_is_a_clear_error(tmp_path: Path) -> None:
    missing = storegw(tmp_path / "nope.toml", "devices")
    assert missing.returncode == 2 and "nope.toml: cannot read config" in missing.stderr
    broken = tmp_path / "gateway.toml"
    broken.write_text('store = "test"\n[keys\n')
    assert storegw(broken, "run").returncode == 2
    assert "not valid TOML" in storegw(broken, "run").stderr


def test_run_refuses_a_missing_key_without_starting(tmp_path: Path) -> None:
    site = build_site(tmp_path / "site", "test", [], 1883)
    (site.gateway_key).unlink()
    result = storegw(site.gateway_config, "run")
    assert result.returncode == 2
    assert "gateway.key does not exist" in result.stderr
    assert not (site.root / "state" / "journal.db").exists()


def test_a_corrupt_journal_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    site = build_site(tmp_path / "site", "test", [], 1883)
    journal = site.root / "state" / "journal.db"
    journal.parent.mkdir()
    garbage = b"this is not an SQLite database" * 100
    journal.write_bytes(garbage)
    for command in (["run"], ["journal"], ["devices"]):
        result = storegw(site.gateway_config, *command)
        assert result.returncode == 2, result.stderr
        assert "cannot be opened" in result.stderr and "Traceback" not in result.stderr
    assert journal.read_bytes() == garbage


def test_journal_before_any_run_says_so(tmp_path: Path) -> None:
    site = build_site(tmp_path / "site", "test", [], 1883)
    result = storegw(site.gateway_config, "journal")
    assert result.returncode == 2 and "has the gateway run?" in result.stderr


def test_journal_exports_the_replay_format_byte_for_byte(tmp_path: Path) -> None:
    config = journaled_site(tmp_path)
    result = storegw(config, "journal", "--format", "replay")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(line["msg"]["type"], line["msg"]["seq"]) for line in lines] == [
        ("state", 0),
        ("weight", 1),
        ("weight", 2),
        ("weight", 3),
    ]
    assert all(set(line) == {"topic", "msg", "recv_ms"} for line in lines)
    assert lines[2]["topic"] == "store/test/node/shelf-01/event/weight" and lines[2]["recv_ms"] == 1_022
    assert lines[3]["msg"]["delta_mg"] == -3000
    filtered = storegw(config, "journal", "--format", "jsonl", "--type", "weight", "--limit", "2")
    assert [json.loads(line)["msg"]["seq"] for line in filtered.stdout.splitlines()] == [1, 2]


def test_stats_and_devices_show_counts_rejects_and_state(tmp_path: Path) -> None:
    config = journaled_site(tmp_path)
    stats = storegw(config, "journal", "--stats")
    assert "shelf-01" in stats.stdout and "weight" in stats.stdout and " 3\n" in stats.stdout
    assert "bad_signature" in stats.stdout
    devices = storegw(config, "devices").stdout.splitlines()
    shelf = next(line for line in devices if line.startswith("shelf-01"))
    camera = next(line for line in devices if line.startswith("camera-01"))
    assert shelf.split()[2:5] == ["online", "1", "3"]
    assert camera.split()[2] == "never"
    assert "SHA256:" in shelf


def test_replay_prints_the_receipts_of_replay_lines(tmp_path: Path) -> None:
    world = build_world(load_layout(SMALL_STORE), "single", 3, 5)
    lines = tmp_path / "store.jsonl"
    lines.write_bytes(b"\n".join(encode_lines(world.lines)) + b"\n")
    done = storegw(tmp_path / "unused.toml", "replay", "--layout", str(SMALL_STORE), str(lines))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert [r["session"] for r in result["receipts"]] == list(world.truth)
    first = result["receipts"][0]
    assert set(first) == {"session", "account", "opened_ms", "closed_ms", "lines", "review", "confidence_pm"}
    assert [(line["sku"], line["qty"]) for line in first["lines"]] == list(world.truth[first["session"]].lines)
    assert result["stats"]["messages"] == len(world.lines)


def test_replay_names_the_line_it_cannot_read(tmp_path: Path) -> None:
    lines = tmp_path / "bad.jsonl"
    lines.write_text('{"topic": "store/demo/node/shelf-01/state", "msg": {"v": 1}, "recv_ms": 5}\n')
    done = storegw(tmp_path / "unused.toml", "replay", "--layout", str(SMALL_STORE), str(lines))
    assert done.returncode == 2
    assert "line 1" in done.stderr and done.stdout == ""


def test_devices_reset_forgets_a_devices_marks_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    config = journaled_site(tmp_path)
    before = storegw(config, "devices").stdout
    assert next(line for line in before.splitlines() if line.startswith("shelf-01")).split()[3:5] == ["1", "3"]
    unknown = storegw(config, "devices", "--reset", "camera-01")
    assert unknown.returncode == 2 and unknown.stderr.strip() == "storegw: the journal knows no device camera-01"
    reset = storegw(config, "devices", "--reset", "shelf-01")
    assert reset.returncode == 0, reset.stderr
    settings, base = load_gateway_config(config)
    journal = Journal(base / settings.journal)
    assert journal.marks_generation() == 1 and journal.high_water_marks() == {}
    IngestCore(Verifier(load_registry(base / settings.registry)), journal, 1024)  # the gateway starting
    journal.close()
    after = storegw(config, "devices").stdout
    assert next(line for line in after.splitlines() if line.startswith("shelf-01")).split()[3:5] == ["0", "0"]

"""gateway/provisioning/broker_config.py: Mosquitto's ACL, password file and config from the registry."""

import os
import shutil
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from edge.protocol.envelope import MAX_PAYLOAD_BYTES
from edge.protocol.roles import EVENT_TYPES, Role
from gateway.operator.view import MAX_RETAINED_BYTES
from gateway.provisioning.broker_config import (
    FULL_STORE_FLOOR_PER_S,
    MAX_PACKET_BYTES,
    PEAK_RATE_PER_S,
    acl_text,
    current_user,
    mosquitto_conf,
    passwd_text,
    size_queue,
    write_broker_config,
)
from gateway.provisioning.passwords import matches, mosquitto_hash
from gateway.registry import Device, Registry

GATEWAY_STATE = "store/s1/gateway/state"
PASSWORDS = {"gateway": "gw-pass", "shelf-1": "p-shelf", "cam-1": "p-cam", "gate-1": "p-gate"}


def make_registry(cameras: int = 0) -> Registry:
    registry = Registry("s1")
    registry.gateway = Device("gateway", Role.GATEWAY, SigningKey.generate().verify_key, mosquitto_hash("gw-pass"))
    for node, role in (("shelf-1", Role.SHELF), ("cam-1", Role.CAMERA), ("gate-1", Role.GATE)):
        registry.add(Device(node, role, SigningKey.generate().verify_key, mosquitto_hash(PASSWORDS[node])))
    for index in range(cameras):
        registry.add(Device(f"cam-x{index}", Role.CAMERA, SigningKey.generate().verify_key, mosquitto_hash("x")))
    return registry


def acl_rules(text: str) -> dict[str, set[tuple[str, str]]]:
    rules: dict[str, set[tuple[str, str]]] = {}
    user = ""
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "user":
            user = words[1]
            assert user not in rules, f"user {user} appears twice"
            rules[user] = set()
        else:
            assert words[0] == "topic" and len(words) == 3, line
            rules[user].add((words[1], words[2]))
    return rules


def conf_settings(text: str) -> dict[str, str]:
    settings: dict[str, str] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            assert key not in settings or key == "log_type", f"{key} set twice"
            settings[key] = value
    return settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def mqtt_string(text: str) -> bytes:
    raw = text.encode()
    return len(raw).to_bytes(2, "big") + raw


def connack_code(port: int, user: str, password: str) -> int:
    """Send an MQTT 3.1.1 CONNECT with a username and password; return the CONNACK return code."""
    body = mqtt_string("MQTT") + bytes([4, 0xC2]) + (30).to_bytes(2, "big")
    body += mqtt_string(f"probe-{user}") + mqtt_string(user) + mqtt_string(password)
    length = bytearray()
    remaining = len(body)
    while True:
        byte, remaining = remaining % 128, remaining // 128
        length.append(byte | (0x80 if remaining else 0))
        if not remaining:
            break
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(bytes([0x10]) + bytes(length) + body)
        reply = b""
        while len(reply) < 4:
            chunk = connection.recv(4 - len(reply))
            if not chunk:
                break
            reply += chunk
    assert reply[:2] == b"\x20\x02", reply
    return reply[3]


def find_mosquitto() -> str:
    found = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    assert os.access(found, os.X_OK), "mosquitto is not installed"
    return found


def test_acl_grants_each_device_its_role_events_state_and_cmd() -> None:
    rules = acl_rules(acl_text(make_registry()))
    for node, role in (("shelf-1", Role.SHELF), ("cam-1", Role.CAMERA), ("gate-1", Role.GATE)):
        base = f"store/s1/node/{node}"
        expected = {("write", f"{base}/event/{kind}") for kind in EVENT_TYPES[role]}
        expected |= {("write", f"{base}/state"), ("read", f"{base}/cmd/#"), ("read", GATEWAY_STATE)}
        assert rules[node] == expected


def test_acl_gives_devices_no_wildcard_write_and_no_other_node() -> None:
    rules = acl_rules(acl_text(make_registry()))
    for node in ("shelf-1", "cam-1", "gate-1"):
        for access, topic in rules[node]:
            if access == "write":
                assert topic.startswith(f"store/s1/node/{node}/")
                assert "#" not in topic and "+" not in topic
            else:
                assert access == "read"
                assert topic in (f"store/s1/node/{node}/cmd/#", GATEWAY_STATE)
    assert ("write", "store/s1/node/shelf-1/event/interaction") not in rules["shelf-1"]
    assert ("write", "store/s1/node/cam-1/event/weight") not in rules["cam-1"]


def test_acl_gateway_entries() -> None:
    rules = acl_rules(acl_text(make_registry()))
    assert rules["gateway"] == {
        ("readwrite", "store/s1/node/+/event/#"),
        ("read", "store/s1/node/+/state"),
        ("readwrite", "store/s1/node/+/cmd/#"),
        ("readwrite", "store/s1/gateway/#"),
        ("readwrite", "homeassistant/#"),
        ("write", "store/s1/upstream/out/#"),
        ("read", "store/s1/upstream/in/#"),
        ("read", "store/s1/upstream/link"),
    }


def test_acl_without_gateway_lists_only_devices() -> None:
    registry = make_registry()
    registry.gateway = None
    assert set(acl_rules(acl_text(registry))) == {"shelf-1", "cam-1", "gate-1"}


def test_passwd_lines_match_the_registry_hashes() -> None:
    registry = make_registry()
    lines = passwd_text(registry).splitlines()
    assert [line.split(":", 1)[0] for line in lines] == ["gateway", "cam-1", "gate-1", "shelf-1"]
    everyone = {"gateway": registry.gateway, **registry.devices}
    for line in lines:
        user, stored = line.split(":", 1)
        device = everyone[user]
        assert device is not None
        assert stored == device.mqtt_password_hash
        assert matches(PASSWORDS[user], stored)


def test_queue_floor_for_a_small_registry() -> None:
    sizing = size_queue(make_registry())
    assert sizing.peak_per_s == FULL_STORE_FLOOR_PER_S == 100
    assert sizing.max_queued_messages == 120_000
    assert "120000" in sizing.explain()


def test_queue_grows_with_many_cameras() -> None:
    registry = make_registry(cameras=20)
    sizing = size_queue(registry)
    expected_peak = PEAK_RATE_PER_S[Role.SHELF] + PEAK_RATE_PER_S[Role.GATE] + 21 * PEAK_RATE_PER_S[Role.CAMERA]
    assert sizing.peak_per_s == pytest.approx(expected_peak)
    assert sizing.max_queued_messages == round(expected_peak * 600 * 2)
    assert sizing.max_queued_messages > 120_000


def test_write_broker_config_files(tmp_path: Path) -> None:
    registry = make_registry()
    directory = tmp_path / "broker"
    sizing = write_broker_config(directory, registry, 18883, "127.0.0.1", "nobody")
    assert sizing.max_queued_messages == 120_000
    passwd = directory / "passwd"
    # Mosquitto rereads them as its `user` on a reload: its group reads, nobody else
    for name in ("passwd", "acl", "mosquitto.conf"):
        assert stat.S_IMODE((directory / name).stat().st_mode) == 0o640
    assert stat.S_IMODE(directory.stat().st_mode) == stat.S_IMODE((directory / "data").stat().st_mode) == 0o750
    assert passwd.read_text() == passwd_text(registry)
    assert (directory / "acl").read_text() == acl_text(registry)
    assert (directory / "data").is_dir()
    settings = conf_settings((directory / "mosquitto.conf").read_text())
    assert settings["allow_anonymous"] == "false"
    assert settings["persistence"] == "true"
    assert settings["per_listener_settings"] == "false"
    assert settings["max_queued_messages"] == "120000"
    assert settings["max_queued_bytes"] == "0"
    assert int(settings["max_packet_size"]) == MAX_PACKET_BYTES > MAX_PAYLOAD_BYTES
    # the operator view's largest payload, its longest topic and the packet's header fit
    assert MAX_RETAINED_BYTES + 1024 < MAX_PACKET_BYTES
    assert settings["listener"] == "18883 127.0.0.1"
    assert settings["user"] == "nobody"
    assert settings["password_file"] == str((directory / "passwd").resolve())
    assert settings["acl_file"] == str((directory / "acl").resolve())
    assert settings["persistence_location"] == str((directory / "data").resolve()) + "/"


def test_conf_reflects_a_large_registry(tmp_path: Path) -> None:
    sizing = size_queue(make_registry(cameras=20))
    settings = conf_settings(mosquitto_conf(tmp_path, sizing, 1883, "0.0.0.0", "mosquitto"))
    assert settings["max_queued_messages"] == str(sizing.max_queued_messages)
    assert settings["listener"] == "1883 0.0.0.0"


def test_rewrite_replaces_the_files(tmp_path: Path) -> None:
    registry = make_registry()
    write_broker_config(tmp_path, registry, 18883, "127.0.0.1", "nobody")
    registry.remove("gate-1")
    write_broker_config(tmp_path, registry, 18883, "127.0.0.1", "nobody")
    assert "gate-1" not in (tmp_path / "acl").read_text()
    assert "gate-1" not in (tmp_path / "passwd").read_text()
    assert stat.S_IMODE((tmp_path / "passwd").stat().st_mode) == 0o640


def test_real_mosquitto_accepts_the_generated_config(tmp_path: Path) -> None:
    binary = find_mosquitto()
    port = free_port()
    directory = tmp_path / "broker"
    write_broker_config(directory, make_registry(), port, "127.0.0.1", current_user())
    log_path = tmp_path / "mosquitto.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen([binary, "-c", str(directory / "mosquitto.conf")], stdout=log_file, stderr=log_file)
    try:
        deadline = time.monotonic() + 10
        listening = False
        while not listening and process.poll() is None and time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    listening = True
            except OSError:
                time.sleep(0.05)
        assert listening, f"mosquitto did not listen (exit {process.poll()}): {log_path.read_text()}"
        assert connack_code(port, "shelf-1", PASSWORDS["shelf-1"]) == 0
        assert connack_code(port, "gateway", PASSWORDS["gateway"]) == 0
        assert connack_code(port, "shelf-1", "wrong") == 5
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    log = log_path.read_text()
    assert "Error" not in log, log

"""The store on a dashboard, end to end: a real Mosquitto, the gateway and nodes as processes,
and a dashboard that subscribes as MQTT Explorer or Home Assistant would (the read-only
dashboard account, a fresh clean session each time)."""

import json
import shutil
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from edge.protocol.roles import Role
from edge.protocol.topics import upstream_link_topic
from firmware_tests.conftest import REPO, Store, wait_until
from firmware_tests.mqtt_client import TestClient
from gateway.provisioning.provision import add_operator, decommission_node
from gateway.provisioning.site import DASHBOARD

NODES = [("shelf-01", Role.SHELF), ("gate-01", Role.GATE), ("camera-01", Role.CAMERA)]
GATEWAY = "store/test/gateway"
LINK = upstream_link_topic("test")


def dashboard(store: Store, name: str, account: str = DASHBOARD) -> TestClient:
    """A dashboard logged in as `account`: the broker ties a session to its account, so two
    dashboards at once need two accounts (`storeprov add-operator`)."""
    client = TestClient.as_file_user(store.port, account, store.site.operator_password(account), name)
    assert client.refused is None, client.refused
    for topic in (f"{GATEWAY}/#", "homeassistant/#", "store/test/node/+/state"):
        client.subscribe(topic)
    return client


def retained(store: Store, name: str) -> dict[str, Any]:
    """What a dashboard subscribing now is handed: every retained topic, and all of it; the
    gateway's JSON decoded, a node's state left as it is signed (signature first). The
    broker sends a client its messages in order, so once the retained message of one more
    subscription, made after the dashboard's, has arrived, so has everything retained for
    theirs. That one is the bridge's link state, which the broker retains itself from the
    moment it starts and which no dashboard subscription matches."""
    client = dashboard(store, name)
    client.subscribe(LINK)
    try:
        wait_until(lambda: any(m.topic == LINK and m.retain for m in client.messages), 30, "the retained link state")
    finally:
        client.close()
    found: dict[str, Any] = {}
    for message in client.messages:
        if message.retain:
            payload = bytes(message.payload)
            signed = message.topic.startswith("store/test/node/")  # its first byte is '{' one time in 256
            found[message.topic] = json.loads(payload) if payload.startswith(b"{") and not signed else payload
    return found


def complete(found: dict[str, Any], nodes: list[str]) -> None:
    """The retained state a dashboard needs, all of it there and agreeing with itself."""
    status = found[f"{GATEWAY}/state"]
    assert status["state"] == "online"
    assert status["devices_total"] == len(nodes)
    assert {t.rsplit("/", 1)[1] for t in found if t.startswith(f"{GATEWAY}/devices/")} == set(nodes)
    shelves = [t.rsplit("/", 1)[1] for t in found if t.startswith(f"{GATEWAY}/shelves/")]
    assert shelves == ["shelf-01"], "the shelf that reported weights"
    assert all(lane["weight_mg"] is not None for lane in found[f"{GATEWAY}/shelves/shelf-01"]["lanes"])
    names = [*nodes, "gateway", *(f"shelf-{shelf}" for shelf in shelves)]
    expected_discovery = {f"homeassistant/device/test-{name}/config" for name in names}
    assert {t for t in found if t.startswith("homeassistant/device/")} == expected_discovery
    online = [n for n in nodes if found[f"{GATEWAY}/devices/{n}"]["availability"] == "online"]
    assert status["devices_online"] == len(online)


def test_a_fresh_dashboard_gets_the_whole_store_and_again_after_a_gateway_restart(make_store) -> None:  # type: ignore[no-untyped-def]
    store: Store = make_store(NODES)
    store.start_gateway()
    shelf = store.start_node("shelf-01", 50, 50, "--linger")
    wait_until(lambda: len(store.journaled("shelf-01")) == 50, 30, "the shelf's events")
    wait_until(
        lambda: retained(store, "probe").get(f"{GATEWAY}/devices/shelf-01", {}).get("availability") == "online",
        60, "the shelf shown online",
    )  # fmt: skip
    before = retained(store, "dashboard-1")
    complete(before, ["shelf-01", "gate-01", "camera-01"])
    assert before[f"{GATEWAY}/devices/shelf-01"]["boot"] == 1
    assert before[f"{GATEWAY}/devices/gate-01"]["availability"] == "unknown"

    # the gateway dies; while it is away a camera is decommissioned
    store.kill_gateway()
    decommission_node(store.site, "camera-01")
    store.start_gateway()
    wait_until(lambda: f"{GATEWAY}/devices/camera-01" not in retained(store, "probe-2"), 60, "the stale camera swept")
    after = retained(store, "dashboard-2")
    complete(after, ["shelf-01", "gate-01"])
    assert "homeassistant/device/test-camera-01/config" not in after
    assert after[f"{GATEWAY}/devices/shelf-01"]["availability"] == "online"
    assert after[f"{GATEWAY}/devices/shelf-01"]["boot"] == 1
    shelf.send_signal(signal.SIGTERM)
    assert shelf.wait(20) == 0


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["broker-stopped", "broker-crashed"])
def test_after_a_broker_restart_nothing_stays_offline(make_store, how: signal.Signals) -> None:  # type: ignore[no-untyped-def]
    store: Store = make_store(NODES[:1])
    store.start_gateway()
    shelf = store.start_node("shelf-01", 10, 50, "--linger")
    wait_until(lambda: len(store.journaled("shelf-01")) == 10, 30, "the shelf's events")
    store.broker.stop(how)

    def noticed(name: str) -> bool:
        return b"disconnected from broker" in (store.root / f"{name}.log").read_bytes()

    wait_until(lambda: noticed("gateway") and noticed("shelf-01"), 30, "every client to notice the broker gone")
    store.broker.start()

    def settled() -> bool:
        found = retained(store, "after-restart")
        gateway = found.get(f"{GATEWAY}/state", {})
        device = found.get(f"{GATEWAY}/devices/shelf-01", {})
        node = found.get("store/test/node/shelf-01/state", b"")
        return (
            gateway.get("state") == "online"
            and device.get("availability") == "online"
            and b'"state":"online"' in node
            and "homeassistant/device/test-gateway/config" in found
        )

    wait_until(settled, 60, "the gateway, the node and the node's dashboard topic online again")
    time.sleep(3)  # and they stay so: no late will overwrites them
    assert settled()
    shelf.send_signal(signal.SIGTERM)
    assert shelf.wait(20) == 0


def test_a_node_lost_raises_an_alert_and_its_return_clears_it(make_store) -> None:  # type: ignore[no-untyped-def]
    store: Store = make_store(NODES[:1])
    add_operator(store.site, "watcher")
    store.broker.reload()
    store.start_gateway()
    watcher = dashboard(store, "watcher", "watcher")
    shelf = store.start_node("shelf-01", 5, 50, "--linger")
    wait_until(lambda: len(store.journaled("shelf-01")) == 5, 30, "the shelf's events")
    shelf.send_signal(signal.SIGKILL)  # its will is published when its connection drops

    def alerts() -> list[dict[str, Any]]:
        return [json.loads(m.payload) for m in watcher.messages if m.topic == f"{GATEWAY}/alerts"]

    wait_until(lambda: any(a["kind"] == "device_offline" and a["active"] for a in alerts()), 30, "the offline alert")
    assert retained(store, "look")[f"{GATEWAY}/devices/shelf-01"]["availability"] == "offline"
    shelf = store.start_node("shelf-01", 5, 50, "--linger")
    wait_until(lambda: any(a["kind"] == "device_offline" and not a["active"] for a in alerts()), 30, "the clear")
    assert retained(store, "look-2")[f"{GATEWAY}/devices/shelf-01"]["alerts"] == []
    watcher.close()
    shelf.send_signal(signal.SIGTERM)
    assert shelf.wait(20) == 0


def test_storegw_top_draws_the_store_in_a_terminal(make_store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    tmux = shutil.which("tmux")
    assert tmux is not None, "tmux is missing; `make test` installs it"
    store: Store = make_store(NODES[:2])
    store.start_gateway()
    shelf = store.start_node("shelf-01", 5, 50, "--linger")
    wait_until(lambda: len(store.journaled("shelf-01")) == 5, 30, "the shelf's events")
    socket = str(tmp_path / "tmux.sock")
    command = f"{sys.executable} -m gateway.cli --config {store.site.gateway_config} top"
    subprocess.run([tmux, "-S", socket, "new-session", "-d", "-x", "120", "-y", "40", "-c", str(REPO), command],
                   check=True)  # fmt: skip

    def screen() -> str:
        capture = [tmux, "-S", socket, "capture-pane", "-p"]
        return subprocess.run(capture, capture_output=True, text=True, check=False).stdout

    try:
        wait_until(lambda: "gateway online" in screen(), 60, "the gateway's status on screen")
        wait_until(
            lambda: any(line.startswith("shelf-01") and " online " in line for line in screen().splitlines()),
            60, "the shelf online on screen",
        )  # fmt: skip
        text = screen()
        assert any(line.startswith("gate-01") and " unknown " in line for line in text.splitlines())
        assert "devices 1/2 online" in text and "q quits" in text
        shelf.send_signal(signal.SIGKILL)
        wait_until(lambda: "device_offline shelf-01" in screen(), 30, "the alert on screen")
        assert any(line.startswith("shelf-01") and " offline " in line for line in screen().splitlines())
        subprocess.run([tmux, "-S", socket, "send-keys", "q"], check=True)
        wait_until(lambda: subprocess.run([tmux, "-S", socket, "has-session"], capture_output=True).returncode != 0,
                   30, "top to quit on q")  # fmt: skip
    finally:
        subprocess.run([tmux, "-S", socket, "kill-server"], capture_output=True, check=False)


def test_storegw_top_once_prints_a_screen_and_says_when_it_cannot_log_in(make_store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store: Store = make_store(NODES[:1])
    store.start_gateway()
    top = [sys.executable, "-m", "gateway.cli", "--config", str(store.site.gateway_config), "top", "--once"]
    done = subprocess.run(top, capture_output=True, text=True, cwd=REPO, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "gateway online" in done.stdout and "shelf-01" in done.stdout
    wrong = tmp_path / "wrong.password"
    wrong.write_text("not-the-password\n")
    done = subprocess.run([*top, "--password-file", str(wrong)], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 3 and "refused" in done.stdout
    done = subprocess.run([*top, "--password-file", str(tmp_path / "missing")], capture_output=True, text=True,
                          cwd=REPO, timeout=60)  # fmt: skip
    assert done.returncode == 2 and "dashboard's broker password" in done.stderr

"""Mosquitto's config, password file and ACL, generated from the registry.

No anonymous clients; one credential per device; a device may write only its own
role's event types and its own state, and read only its own commands. Persistence is
on, and the gateway's queue is sized for a 10-minute gateway outage at full store load
(Mosquitto's default of 1000 queued messages would drop the rest silently).
"""

import ipaddress
import math
import os
import pwd
import re
import signal
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Final

from edge.protocol.configfile import read_password
from edge.protocol.envelope import MAX_PAYLOAD_BYTES
from edge.protocol.filemodes import SHARED_DIR, SHARED_FILE, make_dir
from edge.protocol.keys import write_file_atomic
from edge.protocol.roles import EVENT_TYPES, Role
from edge.protocol.topics import gateway_state_topic, upstream_link_topic
from gateway.config import UpstreamLink, load_gateway_config
from gateway.provisioning.site import Site
from gateway.registry import Registry

# Peak messages per second a device of each role sends in a busy store (camera: presence
# at 10 Hz plus interactions; shelf: weight events while a crowd picks plus telemetry;
# gate: passages, palms, QR reads), health included.
PEAK_RATE_PER_S: Final[dict[Role, float]] = {Role.SHELF: 2.5, Role.CAMERA: 12.0, Role.GATE: 1.5}
# A store's full load is never sized below this, so a site provisioned with its first few
# devices already tolerates the outage of a full store.
FULL_STORE_FLOOR_PER_S: Final = 100.0
OUTAGE_S: Final = 600
HEADROOM: Final = 2.0
# Mosquitto's max_packet_size: a client that sends a bigger packet is disconnected, so the
# gateway checks every publish against it (gateway/service.py). Above the protocol's payload
# limit, so oversize payloads from devices reach the gateway and get counted there.
MAX_PACKET_BYTES: Final = 262_144


@dataclass(frozen=True, slots=True)
class QueueSizing:
    peak_per_s: float
    max_queued_messages: int

    def explain(self) -> str:
        return (
            f"max_queued_messages {self.max_queued_messages} = {self.peak_per_s:.0f} msg/s peak "
            f"x {OUTAGE_S} s outage x {HEADROOM} headroom"
        )


class ListenerError(ValueError):
    """A bind address or a user Mosquitto cannot use, which it would refuse only when started."""


# RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens.
_HOST_NAME = re.compile(r"(?=.{1,253}\Z)(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*")


def check_listener(bind: str, run_as: str) -> None:
    """Refuse, before any file is written, what would stop Mosquitto at its start."""
    try:
        ipaddress.ip_address(bind)
    except ValueError:
        if not _HOST_NAME.fullmatch(bind):
            raise ListenerError(f"--bind {bind!r} is neither an IP address nor a host name") from None
    try:
        pwd.getpwnam(run_as)
    except KeyError:
        raise ListenerError(f"--run-as {run_as}: no such user on this machine") from None


def current_user() -> str:
    """Who Mosquitto should run as when started as root: by default whoever provisions."""
    return pwd.getpwuid(os.getuid()).pw_name


def size_queue(registry: Registry) -> QueueSizing:
    peak = sum(PEAK_RATE_PER_S[device.role] for device in registry.devices.values())
    peak = max(peak, FULL_STORE_FLOOR_PER_S)
    return QueueSizing(peak, math.ceil(peak * OUTAGE_S * HEADROOM))


def acl_text(registry: Registry) -> str:
    store = registry.store
    lines = ["# generated from the device registry by `make broker-config`; edits are overwritten", ""]
    if registry.gateway is not None:
        lines += [
            f"user {registry.gateway.node}",
            # readwrite only to clear what a device published retained there
            f"topic readwrite store/{store}/node/+/event/#",
            f"topic read store/{store}/node/+/state",
            # read too: to find and clear commands retained on the broker, which nodes never obey
            f"topic readwrite store/{store}/node/+/cmd/#",
            f"topic readwrite store/{store}/gateway/#",
            "topic readwrite homeassistant/#",
            f"topic write store/{store}/upstream/out/#",
            f"topic read store/{store}/upstream/in/#",
            f"topic read {upstream_link_topic(store)}",
            "",
        ]
    for name in sorted(registry.operators):
        lines += [
            f"user {name}",
            f"topic read store/{store}/gateway/#",
            f"topic read store/{store}/node/+/state",
            f"topic read {upstream_link_topic(store)}",
            "topic read homeassistant/#",
            "",
        ]
    for device in sorted(registry.devices.values(), key=lambda d: d.node):
        base = f"store/{store}/node/{device.node}"
        lines.append(f"user {device.node}")
        lines += [f"topic write {base}/event/{kind}" for kind in sorted(EVENT_TYPES[device.role])]
        lines += [
            f"topic write {base}/state",
            f"topic read {base}/cmd/#",
            f"topic read {gateway_state_topic(store)}",
            "",
        ]
    return "\n".join(lines)


def passwd_text(registry: Registry) -> str:
    entries = ([registry.gateway] if registry.gateway else []) + sorted(registry.devices.values(), key=lambda d: d.node)
    lines = [f"{device.node}:{device.mqtt_password_hash}\n" for device in entries]
    lines += [f"{name}:{password_hash}\n" for name, password_hash in sorted(registry.operators.items())]
    return "".join(lines)


TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "mosquitto.conf.template"


@dataclass(frozen=True, slots=True)
class Bridge:
    """The store broker's bridge to upstream's: `out/` up, `in/` down, both QoS 1."""

    store: str
    link: UpstreamLink
    password: str

    def text(self) -> str:
        # cleansession false: each side queues for the other while the link is down (the
        # store's own broker persists what waits to go up). The link's state goes to a
        # retained local topic that the gateway and dashboards read.
        return "\n".join(
            [
                "",
                "# the bridge to upstream, from gateway.toml's [upstream]",
                "connection upstream",
                f"address {self.link.host}:{self.link.port}",
                f"remote_username {self.link.username}",
                f"remote_password {self.password}",
                "cleansession false",
                "restart_timeout 1 10",
                "keepalive_interval 15",
                "notifications true",
                "notifications_local_only true",
                f"notification_topic {upstream_link_topic(self.store)}",
                f"topic store/{self.store}/upstream/out/# out 1",
                f"topic store/{self.store}/upstream/in/# in 1",
                "",
            ]
        )


def site_bridge(site: Site) -> Bridge | None:
    """The bridge gateway.toml asks for, or None when the store has no upstream."""
    gateway, base = load_gateway_config(site.gateway_config)
    if gateway.upstream is None:
        return None
    password = read_password(base, gateway.upstream.password_file)
    return Bridge(gateway.store, gateway.upstream, password or "")


def mosquitto_conf(
    directory: Path, sizing: QueueSizing, port: int, bind: str, run_as: str, bridge: Bridge | None = None
) -> str:
    directory = directory.resolve()
    return Template(TEMPLATE.read_text()).substitute(
        passwd=directory / "passwd",
        acl=directory / "acl",
        port=port,
        bind=bind,
        run_as=run_as,
        data=directory / "data",
        sizing=sizing.explain(),
        max_queued_messages=sizing.max_queued_messages,
        max_payload=MAX_PAYLOAD_BYTES,
        max_packet=MAX_PACKET_BYTES,
    ) + (bridge.text() if bridge is not None else "")


def write_broker_config(
    directory: Path, registry: Registry, port: int, bind: str, run_as: str, bridge: Bridge | None = None
) -> QueueSizing:
    """Write the config, the password file and the ACL, 0640 (a bridge's password is in the
    config): Mosquitto rereads them as `run_as` on a reload, which needs its group to read."""
    sizing = size_queue(registry)
    make_dir(directory / "data", SHARED_DIR)
    write_broker_credentials(directory, registry)
    text = mosquitto_conf(directory, sizing, port, bind, run_as, bridge)
    write_file_atomic(directory / "mosquitto.conf", text.encode(), SHARED_FILE)
    return sizing


def write_broker_credentials(directory: Path, registry: Registry) -> None:
    """The password file and ACL alone: what a node added or removed changes."""
    make_dir(directory, SHARED_DIR)
    write_file_atomic(directory / "passwd", passwd_text(registry).encode(), SHARED_FILE)
    write_file_atomic(directory / "acl", acl_text(registry).encode(), SHARED_FILE)


def reload_running_broker(config: Path, proc: Path = Path("/proc")) -> list[int]:
    """Send SIGHUP to every Mosquitto running with `config`, so it rereads the password file and
    ACL; returns their pids. Mosquitto writes a pid file only as a daemon, so the processes are
    found by their command line, which is how `make broker-config` says to start it."""
    wanted = str(config.resolve())
    signalled: list[int] = []
    unreachable: list[int] = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        args = [arg.decode(errors="replace") for arg in argv if arg]
        if not args or Path(args[0]).name != "mosquitto" or "-c" not in args[:-1]:
            continue
        given = Path(args[args.index("-c") + 1])
        cwd = entry / "cwd"
        try:
            path = given if given.is_absolute() else cwd.readlink() / given
        except OSError:
            continue
        if str(path.resolve()) == wanted:
            try:
                os.kill(int(entry.name), signal.SIGHUP)
            except ProcessLookupError:
                continue
            except PermissionError:
                unreachable.append(int(entry.name))
                continue
            signalled.append(int(entry.name))
    if unreachable:
        pids = " ".join(map(str, unreachable))
        raise PermissionError(f"Mosquitto (pid {pids}) is another user's: reload it with `sudo kill -HUP {pids}`")
    return signalled

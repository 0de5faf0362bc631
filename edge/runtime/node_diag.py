"""The console commands every node has: status, net, key, log, spool and reboot. They read
the running node; none of them can show a secret (`key` is the public key's fingerprint)."""

import json
import subprocess
from collections.abc import Iterator
from importlib import metadata
from typing import TYPE_CHECKING

from edge.protocol.diag import DiagError, ErrorCode, Record
from edge.protocol.keys import fingerprint
from edge.runtime.diag import DiagCommand, no_args
from edge.runtime.health import TEMP_UNKNOWN
from edge.runtime.log_ring import LogRing

if TYPE_CHECKING:
    from edge.runtime.node import Node

MAX_LOG_LINES = 200
MAX_MESSAGE = 400  # of a log line, so that an answer line stays within MAX_REPLY


def _version() -> str:
    try:
        return metadata.version("storeedge")
    except metadata.PackageNotFoundError:
        return "unknown"


def _link(node: "Node") -> Record:
    return {
        "link": "connected" if node.link.connected else "down",
        "gateway": "online" if node.link.sending else "offline",
    }


def common_commands(node: "Node", ring: LogRing) -> list[DiagCommand]:
    def status(args: list[str]) -> list[Record]:
        no_args(args, "status")
        health = node.health()
        summary: Record = {
            "node": node.config.node,
            "role": node.config.role,
            "store": node.config.store,
            "version": _version(),
            "boot": node.boot,
            "uptime_s": health.uptime_s,
            **_link(node),
            "spool": health.spool,
            "temp_c10": "-" if health.temp_c10 == TEMP_UNKNOWN else health.temp_c10,
            "service": "on" if node.in_service() else "off",
        }
        return [summary] + [{"counter": name, "count": count} for name, count in sorted(health.counters.items())]

    def net(args: list[str]) -> list[Record]:
        no_args(args, "net")
        broker = node.config.broker
        return [{"broker": f"{broker.host}:{broker.port}", **_link(node)}, *_interfaces()]

    def key(args: list[str]) -> list[Record]:
        no_args(args, "key")
        return [{"node": node.config.node, "fingerprint": fingerprint(node.public_key)}]

    def log(args: list[str]) -> list[Record]:
        if len(args) > 1 or (args and not args[0].isdigit()):
            raise DiagError(ErrorCode.BAD_ARGS, f"usage: log [N], N up to {MAX_LOG_LINES}")
        n = min(MAX_LOG_LINES, int(args[0]) if args else 20)
        return [
            {"t_ms": line.t_ms, "level": line.level, "logger": line.logger, "message": line.message[:MAX_MESSAGE]}
            for line in ring.last(n)
        ]

    def spool(args: list[str]) -> list[Record]:
        no_args(args, "spool")
        waiting = node.spool.by_topic()
        summary: Record = {"spool": sum(waiting.values()), "sending": "yes" if node.link.sending else "no"}
        return [summary] + [{"type": topic.rsplit("/", 1)[-1], "waiting": n} for topic, n in waiting.items()]

    def reboot(args: list[str]) -> Iterator[Record]:
        no_args(args, "reboot")
        yield {"restarting": node.config.node, "boot": node.boot, "next_boot": node.boot + 1}
        node.restart()

    return [
        DiagCommand("status", "", "the node at a glance, and its counters", status),
        DiagCommand("net", "", "the broker link and the network interfaces", net),
        DiagCommand("key", "", "the node's public key fingerprint (never a secret)", key),
        DiagCommand("log", "[N]", "the last N log lines (20)", log),
        DiagCommand("spool", "", "events waiting to leave, by type", spool),
        DiagCommand("reboot", "", "restart the node's software (spool kept, next boot number)", reboot, changes=True),
    ]


def _interfaces() -> list[Record]:
    """Each interface's state and addresses, from iproute2 (on every Raspberry Pi OS)."""
    try:
        found = subprocess.run(["ip", "-j", "addr", "show"], capture_output=True, text=True, timeout=2, check=True)
        interfaces = json.loads(found.stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as error:
        return [{"interfaces": "unknown", "why": type(error).__name__}]
    return [
        {
            "iface": interface.get("ifname", "?"),
            "state": str(interface.get("operstate", "?")).lower(),
            "mac": interface.get("address", ""),
            "addr": ",".join(f"{a['local']}/{a['prefixlen']}" for a in interface.get("addr_info", []) if "local" in a),
        }
        for interface in interfaces
        if interface.get("link_type") != "loopback"
    ]

"""A simulated device that emits role-appropriate synthetic events through the real node
runtime (stamping, signing, spool, MQTT link). The demo and the delivery tests use it
until the shelf, camera and gate apps drive the runtime from simulated hardware.

    python -m hw.sim.traffic --config node.toml --events 1000 --rate 200
"""

import argparse
import json
import logging
import signal
import sys
import time
from pathlib import Path

from edge.protocol.clock import wall_ms
from edge.protocol.messages import UNSTAMPED, Message, Passage, Presence, Weight
from edge.protocol.roles import Role
from edge.runtime.config import load_node_config
from edge.runtime.node import Node

TRAFFIC_TYPE: dict[Role, str] = {Role.SHELF: "weight", Role.CAMERA: "presence", Role.GATE: "passage"}


def synthetic_event(role: Role, node: str, n: int, now_ms: int) -> Message:
    """The n-th synthetic event of a device; fields vary with n so that each is distinct."""
    if role is Role.SHELF:
        delta = -((n % 7) + 1) * 125_000
        return Weight(
            **UNSTAMPED,
            shelf=node,
            lane=n % 4,
            t0=now_ms - 900,
            t1=now_ms - 100,
            delta_mg=delta,
            before_mg=2_000_000,
            after_mg=2_000_000 + delta,
            noise_mg=800,
        )
    if role is Role.CAMERA:
        return Presence(**UNSTAMPED, people=[(1000 + n % 500, 2000 + n % 300, 900)])
    return Passage(**UNSTAMPED, gate=node, dir="in" if n % 2 else "out", t=now_ms, grant=None, x_mm=500, y_mm=0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hw.sim.traffic", description=__doc__)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--rate", type=float, default=100.0, help="events per second; 0 = as fast as possible")
    parser.add_argument("--drain-timeout", type=float, default=60.0, help="seconds to wait for the spool to empty")
    parser.add_argument("--linger", action="store_true", help="keep running (health, commands) until signalled")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config, base = load_node_config(args.config)
    node = Node(config, base)
    stopping = node.stopping  # also ends the wait for the gateway's answer in `start`
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    events = args.events if node.start() else 0
    started = time.monotonic()
    for n in range(events):
        if stopping.is_set():
            break
        if args.rate > 0:
            delay = started + n / args.rate - time.monotonic()
            if delay > 0 and stopping.wait(delay):
                break
        node.emit(synthetic_event(config.role, config.node, n, wall_ms()))
    deadline = time.monotonic() + args.drain_timeout
    while node.spool.depth() and time.monotonic() < deadline and not stopping.is_set():
        time.sleep(0.05)
    if args.linger:
        stopping.wait()
    left = node.stop()
    print(json.dumps({"node": config.node, "boot": node.boot, "made": node.made, "spool": left}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

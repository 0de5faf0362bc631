"""`storenode`: run a node, or show what it is (id, role, key fingerprint, boot, spool)."""

import argparse
import json
import logging
import os
import signal
import sys
from pathlib import Path

from edge.protocol.configfile import ConfigError, resolve
from edge.protocol.keys import KeyFileError, fingerprint, load_signing_key
from edge.runtime.bootstate import BootStateError, BootStateFile
from edge.runtime.config import load_node_config
from edge.runtime.node import Node
from edge.runtime.roles import role_app


def _run(config_path: Path) -> bool:
    """Run the node until it is stopped; True if the console asked for a restart."""
    config, base = load_node_config(config_path)
    app = role_app(config.role)
    node = Node(config, base)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: node.stopping.set())
    try:
        if node.start():  # False: stopped while waiting for the gateway to settle the boot
            app(node, node.stopping)
    finally:  # an app that fails still leaves its spool closed and `stopped` published
        left = node.stop()
    # One line for whoever started the node (the demo, a technician): what this boot made.
    print(json.dumps({"node": config.node, "boot": node.boot, "made": node.made, "spool": left}), flush=True)
    return node.restart_requested


def _restart() -> None:
    """Start afresh in this process (same pid, so systemd's notify and watchdog carry on)."""
    logging.shutdown()
    os.execv(sys.executable, [sys.executable, "-m", "edge.runtime.cli", *sys.argv[1:]])


def _info(config_path: Path) -> int:
    config, base = load_node_config(config_path)
    key = load_signing_key(resolve(base, config.keys.device))
    state_dir = resolve(base, config.state_dir)
    boot = BootStateFile(state_dir / "boot.json").read().boot
    print(f"node      {config.node}\nrole      {config.role}\nstore     {config.store}")
    print(f"key       {fingerprint(bytes(key.verify_key))}\nboot      {boot}")
    print(f"broker    {config.broker.host}:{config.broker.port}\nstate dir {state_dir}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="storenode", description=__doc__)
    parser.add_argument(
        "--config", type=Path, default=Path("/var/lib/storeedge/node.toml"), help="(default: where make flash puts it)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run the node's role app")
    commands.add_parser("info", help="show the node's identity; never its private key")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "info":
            return _info(args.config)
        if _run(args.config):
            _restart()
        return 0
    except (ConfigError, KeyFileError, BootStateError) as error:
        print(f"storenode: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

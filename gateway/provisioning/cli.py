"""`storeprov`: the installer's provisioning commands (`make keys`, `make broker-config`)."""

import argparse
import sys
from pathlib import Path

from edge.protocol.configfile import ConfigError
from edge.protocol.keys import KeyFileError
from edge.protocol.roles import DEVICE_ROLES, Role
from gateway.config import load_gateway_config
from gateway.provisioning.broker_config import (
    ListenerError,
    check_listener,
    current_user,
    site_bridge,
    write_broker_config,
)
from gateway.provisioning.flash import flash_mcu, flash_node, update_broker
from gateway.provisioning.provision import (
    ProvisioningError,
    add_node,
    add_operator,
    decommission_node,
    init_site,
    service_pin,
)
from gateway.provisioning.site import Site, StoreKit
from gateway.registry import load_registry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="storeprov", description=__doc__)
    parser.add_argument("--site", type=Path, default=Path("var/site"), help="site directory (default var/site)")
    commands = parser.add_subparsers(dest="command", required=True)
    init = commands.add_parser("init", help="make the store's keys, registry and gateway config")
    init.add_argument("--store", required=True)
    init.add_argument("--gateway-id", default="gateway")
    init.add_argument("--broker-host", default="127.0.0.1")
    init.add_argument("--broker-port", type=int, default=1883)
    init.add_argument(
        "--upstream-kit", type=Path, required=True, help="the store's kit from upstream (`storeup add-store` writes it)"
    )
    node = commands.add_parser("add-node", help="give a node its key and credential and register it")
    node.add_argument("node")
    node.add_argument("role", choices=[str(role) for role in DEVICE_ROLES])
    node.add_argument("--broker-host", help="address the node reaches the broker at (default: the gateway's)")
    node.add_argument("--force", action="store_true", help="replace an existing identity")
    node.add_argument("--backend", default="sim", help="hardware backend written to node.toml (default sim)")
    node.add_argument("--shelf", help="camera nodes: the id of the shelf the camera watches (default: the node id)")
    broker = commands.add_parser("broker-config", help="write Mosquitto's config, passwords and ACL")
    broker.add_argument("--bind", default="127.0.0.1")
    broker.add_argument("--run-as", default=current_user(), help="user Mosquitto runs as when started as root")
    flash = commands.add_parser("flash", help="register a Pi node and write its first boot to a boot partition")
    flash.add_argument("node")
    flash.add_argument("role", choices=[str(role) for role in DEVICE_ROLES])
    flash.add_argument("--boot", type=Path, required=True, help="the mounted boot partition of the node's SD card")
    flash.add_argument("--force", action="store_true", help="replace a first boot written for another node")
    flash.add_argument("--backend", help="hardware backend (default: the role's board, hw/boards)")
    flash.add_argument("--broker-host", help="address the node reaches the broker at (default: the gateway's)")
    flash.add_argument("--shelf", help="camera nodes: the id of the shelf the camera watches (default: the node id)")
    flash.add_argument(
        "--ssh-key", type=Path, action="append", default=[], help="a public key for an `installer` login with sudo"
    )
    mcu = commands.add_parser("flash-mcu", help="put the shelf board's MicroPython firmware on it (mpremote)")
    mcu.add_argument("--port", required=True, help="the board's serial port, e.g. /dev/ttyACM0")
    operator = commands.add_parser("add-operator", help="a read-only broker account for one more dashboard")
    operator.add_argument("name", help="e.g. homeassistant, or a person's name for their storegw top")
    pin = commands.add_parser("service-pin", help="show a node's service PIN, for its technician's work order")
    pin.add_argument("node")
    retire = commands.add_parser("decommission", help="revoke a node: registry, key, broker credential")
    retire.add_argument("node")
    commands.add_parser("show", help="list the registry with key fingerprints")
    args = parser.parse_args(argv)
    site = Site(args.site)
    try:
        if args.command == "init":
            kit = StoreKit(args.upstream_kit)
            lines = init_site(site, args.store, args.gateway_id, args.broker_host, args.broker_port, kit)
        elif args.command == "add-node":
            lines = add_node(site, args.node, Role(args.role), args.broker_host, args.force, args.backend, args.shelf)
        elif args.command == "flash":
            keys = [path.read_text().strip() for path in args.ssh_key]
            lines = flash_node(
                site,
                args.node,
                Role(args.role),
                args.boot,
                args.force,
                args.backend,
                args.broker_host,
                keys,
                args.shelf,
            )
        elif args.command == "flash-mcu":
            lines = flash_mcu(args.port)
        elif args.command == "add-operator":
            lines = [*add_operator(site, args.name), update_broker(site)]
        elif args.command == "service-pin":
            lines = [service_pin(site, args.node)]
        elif args.command == "decommission":
            lines = [*decommission_node(site, args.node), update_broker(site)]
        elif args.command == "broker-config":
            check_listener(args.bind, args.run_as)
            registry = load_registry(site.registry)
            gateway, _ = load_gateway_config(site.gateway_config)
            bridge = site_bridge(site)
            sizing = write_broker_config(site.broker, registry, gateway.broker.port, args.bind, args.run_as, bridge)
            lines = [
                f"wrote {site.broker / 'mosquitto.conf'}, passwd and acl for {len(registry.devices)} devices",
                sizing.explain(),
                f"bridge to upstream at {bridge.link.host}:{bridge.link.port}"
                if bridge
                else "no [upstream]: no bridge",
                f"start it with: mosquitto -c {site.broker / 'mosquitto.conf'}",
            ]
        else:
            registry = load_registry(site.registry)
            lines = [f"store {registry.store}"]
            everyone = ([registry.gateway] if registry.gateway else []) + sorted(
                registry.devices.values(), key=lambda d: d.node
            )
            lines += [f"{d.node:14} {d.role:8} {d.fingerprint}" for d in everyone]
    except (ProvisioningError, ListenerError, ConfigError, KeyFileError, OSError) as error:
        print(f"storeprov: {error}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`storeup`: the reference upstream: set it up, link stores, run it, issue app tokens,
delete and purge enrolments, list the stores' receipts."""

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from edge.protocol.clock import wall_ms
from edge.protocol.configfile import ConfigError, resolve
from edge.protocol.keys import KeyFileError, load_box, load_signing_key
from edge.protocol.qr_token import MAX_LIFETIME_MS, Purpose
from gateway.provisioning.broker_config import ListenerError, check_listener, current_user
from upstream.config import load_upstream_config
from upstream.home import UpstreamHome
from upstream.provision import UpstreamProvisioningError, add_store, init_upstream, write_upstream_broker_config
from upstream.receipts import ReceiptBook
from upstream.service import DAY_MS, Upstream, UpstreamService
from upstream.tokens import app_token
from upstream.vault import Vault, VaultError


def _run(home: UpstreamHome) -> int:
    config, base = load_upstream_config(home.config)
    service = UpstreamService(Upstream(config, base), base)
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    service.start()
    print(f"upstream {config.id} serving from {config.broker.host}:{config.broker.port}", flush=True)
    stopping.wait()
    service.stop()
    return 0


def _token(home: UpstreamHome, account: str, purpose: Purpose, ttl_s: int) -> list[str]:
    config, base = load_upstream_config(home.config)
    if not 1 <= ttl_s * 1000 <= MAX_LIFETIME_MS:
        raise ConfigError(f"--ttl-s must be 1 to {MAX_LIFETIME_MS // 1000} seconds")
    key = load_signing_key(resolve(base, config.keys.sign))
    return [app_token(key, account, purpose, wall_ms(), ttl_s * 1000)]


def _vault(home: UpstreamHome) -> tuple[Vault, int]:
    config, base = load_upstream_config(home.config)
    return Vault(resolve(base, config.vault), load_box(resolve(base, config.keys.vault))), config.palm.purge_after_days


def _receipts(home: UpstreamHome, store: str | None) -> list[str]:
    config, base = load_upstream_config(home.config)
    book = ReceiptBook(resolve(base, config.receipts))
    try:
        return [
            f"{r.store} {r.session} closed {r.closed_ms} {'review ' if r.review else ''}"
            + (", ".join(f"{qty}x {sku}" for sku, qty in r.lines) or "nothing")
            for r in book.receipts(store)
        ]
    finally:
        book.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="storeup", description=__doc__)
    parser.add_argument("--home", type=Path, default=Path("var/upstream"), help="upstream's directory")
    commands = parser.add_subparsers(dest="command", required=True)
    init = commands.add_parser("init", help="make upstream's keys, its broker credential and upstream.toml")
    init.add_argument("--broker-host", default="127.0.0.1")
    init.add_argument("--broker-port", type=int, default=1884)
    store = commands.add_parser("add-store", help="link a store: its bridge credential and its kit")
    store.add_argument("store")
    broker = commands.add_parser("broker-config", help="write the config, passwords and ACL of upstream's broker")
    broker.add_argument("--bind", default="127.0.0.1")
    broker.add_argument("--run-as", default=current_user())
    commands.add_parser("run", help="answer the stores' palms")
    token = commands.add_parser("token", help="issue an app token (printed: it is the shopper's, not a key)")
    token.add_argument("--account", required=True)
    token.add_argument("--purpose", choices=["entry", "enroll"], default="entry")
    token.add_argument("--ttl-s", type=int, default=300)
    delete = commands.add_parser("delete", help="delete every palm template of an account")
    delete.add_argument("--account", required=True)
    commands.add_parser("purge", help="delete enrolments unused for longer than the configured days")
    commands.add_parser("status", help="enrolments, accounts and consents (no templates)")
    receipts = commands.add_parser("receipts", help="the receipts the stores sent, one per line")
    receipts.add_argument("--store")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.command == "run" else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    home = UpstreamHome(args.home)
    try:
        if args.command == "init":
            lines = init_upstream(home, args.broker_host, args.broker_port)
        elif args.command == "add-store":
            lines = add_store(home, args.store)
        elif args.command == "broker-config":
            check_listener(args.bind, args.run_as)
            conf = write_upstream_broker_config(home, args.bind, args.run_as)
            lines = [f"wrote {conf}, passwd and acl", f"start it with: mosquitto -c {conf}"]
        elif args.command == "run":
            return _run(home)
        elif args.command == "token":
            lines = _token(home, args.account, args.purpose, args.ttl_s)
        elif args.command == "receipts":
            lines = _receipts(home, args.store)
        else:
            vault, days = _vault(home)
            now = wall_ms()
            if args.command == "delete":
                lines = [f"deleted {vault.delete_account(args.account, now)} templates of {args.account}"]
            elif args.command == "purge":
                lines = [f"purged the enrolments of {len(vault.purge(now - days * DAY_MS, now))} accounts"]
            else:
                enrolments, accounts = vault.counts()
                consents = vault.consents()
                ended = sum(1 for consent in consents if consent[5] is not None)
                lines = [
                    f"{enrolments} enrolments of {accounts} accounts",
                    f"{len(consents)} consents on record, {ended} ended",
                ]
            vault.close()
    except (UpstreamProvisioningError, ListenerError, ConfigError, KeyFileError, VaultError) as error:
        print(f"storeup: {error}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

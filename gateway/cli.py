"""`storegw`: run the gateway, inspect and export its journal, list devices, replay the fusion
engine, explain a receipt, watch the store live (`top`)."""

import argparse
import logging
import shutil
import signal
import sys
import threading
from pathlib import Path

import msgspec

from edge.protocol.clock import wall_ms
from edge.protocol.configfile import ConfigError, resolve
from edge.protocol.envelope import SIGNATURE_BYTES
from edge.protocol.keys import KeyFileError
from edge.protocol.messages import AnyMessage, decode_message
from gateway.config import GatewayConfig, load_gateway_config
from gateway.explain import explain
from gateway.fusion.engine import FusionEngine
from gateway.fusion.model import EventRef
from gateway.fusion.replay import ReplayError, feed, replay, result_json
from gateway.journal import Journal, JournalError, replay_line
from gateway.layout import load_layout
from gateway.live_fusion import journal_entries
from gateway.operator import top
from gateway.provisioning.site import DASHBOARD, Site
from gateway.registry import load_registry
from gateway.service import Gateway, JournalProcessError

ONCE_SETTLE_S = 2.0  # long enough for the broker to hand over every retained topic


def _run(config_path: Path) -> int:
    config, base = load_gateway_config(config_path)
    gateway = Gateway(config, base)
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    gateway.start()
    print(
        f"gateway {config.id} journaling store {config.store} from {config.broker.host}:{config.broker.port}",
        flush=True,
    )
    while not stopping.wait(0.5):
        if gateway.failed.is_set():
            return 1
    gateway.stop()
    return 0


def _open_journal(config: GatewayConfig, base: Path) -> Journal:
    path = resolve(base, config.journal)
    if not path.exists():
        raise ConfigError(f"journal {path} does not exist yet; has the gateway run?")
    return Journal(path)


def _journal(args: argparse.Namespace) -> int:
    journal = _open_journal(*load_gateway_config(args.config))
    out = sys.stdout.buffer
    if args.stats:
        out.write(b"accepted messages by device and type:\n")
        for dev, kind, count in journal.counts():
            out.write(f"  {dev:16} {kind:12} {count}\n".encode())
        out.write(b"rejects by reason and device:\n")
        for reason, dev, count, last_ms, detail in journal.rejects():
            out.write(f"  {reason:16} {dev:16} {count:6}  last {last_ms}  {detail}\n".encode())
        return 0
    for row in journal.rows(args.dev, args.type, limit=args.limit):
        if args.format == "replay":
            out.write(replay_line(row) + b"\n")
        elif args.format == "jsonl":
            out.write(
                b'{"id":%d,"recv_ms":%d,"topic":%s,"msg":%s}\n'
                % (row.id, row.recv_ms, msgspec.json.encode(row.topic), row.message)
            )
        else:
            out.write(f"{row.id:8} {row.recv_ms} {row.dev:14} {row.boot:4}/{row.seq:<8} {row.type:12} ".encode())
            out.write(row.message[:120] + b"\n")
    return 0


def _devices(args: argparse.Namespace) -> int:
    config, base = load_gateway_config(args.config)
    registry = load_registry(resolve(base, config.registry))
    path = resolve(base, config.journal)
    if args.reset is not None:
        return _reset_marks(_open_journal(config, base), args.reset)
    seen = Journal(path).devices() if path.exists() else {}
    now = wall_ms()
    columns = "{:14} {:7} {:8} {:>5} {:>8} {:>10} {:>8} {:>9} {:>6}  {}"
    print(columns.format("node", "role", "state", "boot", "seq", "last seen", "offset", "accepted", "dups", "key"))
    for device in sorted(registry.devices.values(), key=lambda d: d.node):
        row = seen.get(device.node)
        if row is None:
            print(columns.format(device.node, device.role, "never", "", "", "", "", "", "", device.fingerprint))
            continue
        print(
            columns.format(
                device.node,
                device.role,
                row.state or "-",
                row.boot,
                row.seq,
                f"{(now - row.last_recv_ms) / 1000:.0f}s ago",
                f"{row.offset_ms}ms" if row.offset_ms is not None else "-",
                row.accepted,
                row.duplicates,
                device.fingerprint,
            )
        )
    return 0


def _reset_marks(journal: Journal, node: str) -> int:
    """A device locked out by a jump its genuine messages cannot follow: forget its marks.
    A running gateway rereads them before its next batch."""
    if node not in journal.devices():
        print(f"storegw: the journal knows no device {node}", file=sys.stderr)
        return 2
    journal.reset_marks(node, wall_ms())
    print(f"{node}: marks reset; its next message starts them afresh (a running gateway applies this before its "
          "next batch, a stopped one when it starts)")  # fmt: skip
    return 0


def _replay(args: argparse.Namespace) -> int:
    """DESIGN section 6's replay: JSON lines in (a file, or - for standard input), JSON out."""
    layout = load_layout(args.layout)
    try:
        source = sys.stdin.buffer if str(args.input) == "-" else args.input.open("rb")
    except OSError as error:  # missing, a folder, not ours to read
        print(f"storegw: {args.input}: {error.strerror}", file=sys.stderr)
        return 2
    try:
        engine, receipts = replay(layout, source)
    except ReplayError as error:
        print(f"storegw: {args.input}: {error}", file=sys.stderr)
        return 2
    finally:
        if source is not sys.stdin.buffer:
            source.close()
    sys.stdout.buffer.write(msgspec.json.encode(result_json(engine, receipts)) + b"\n")
    return 0


def _explain(args: argparse.Namespace) -> int:
    """Replay the journal into the fusion engine and show one session's receipt with its evidence."""
    config, base = load_gateway_config(args.config)
    if config.layout is None:
        raise ConfigError(f"{args.config} names no store layout (layout = ...): this gateway fuses no carts")
    layout = load_layout(resolve(base, config.layout))
    journal = _open_journal(config, base)
    engine = FusionEngine(layout)
    receipts = {r.session: r for r in feed(engine, journal_entries(journal))}
    receipt, final = receipts.get(args.session), True
    if receipt is None:
        receipt, final = engine.receipt_so_far(args.session), False
    if receipt is None:
        print(f"storegw: the journal holds no session {args.session!r}", file=sys.stderr)
        return 1

    def lookup(ref: EventRef) -> AnyMessage | None:
        payload = journal.payload_of(*ref)
        return decode_message(payload[SIGNATURE_BYTES:]) if payload is not None else None

    print("\n".join(explain(receipt, lookup, final)))
    return 0


def _top(args: argparse.Namespace) -> int:
    config, base = load_gateway_config(args.config)
    password_file = args.password_file or Site(base).operator_password(args.user)
    login = top.Login(config.broker.host, config.broker.port, args.user, top.password_of(password_file))
    feed = top.Feed(config.store, login)
    if args.once:
        size = shutil.get_terminal_size((120, 50))
        print(top.once(feed, ONCE_SETTLE_S, size.columns, 1000))
        return 0 if feed.board.status is not None else 3
    top.run(feed)
    return 0 if not feed.refused else 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="storegw", description=__doc__)
    parser.add_argument("--config", type=Path, default=Path("var/site/gateway.toml"))
    parser.add_argument("-v", "--verbose", action="store_true")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="verify and journal what devices publish")
    journal = commands.add_parser("journal", help="inspect or export the journal")
    journal.add_argument("--format", choices=["text", "jsonl", "replay"], default="text")
    journal.add_argument("--dev")
    journal.add_argument("--type")
    journal.add_argument("--limit", type=int)
    journal.add_argument("--stats", action="store_true", help="counts by device and type, and rejects by reason")
    devices = commands.add_parser("devices", help="registered devices with what the journal knows of them")
    devices.add_argument(
        "--reset", metavar="NODE", help="forget NODE's boot and seq marks (after a jump that locked it out)"
    )
    replaying = commands.add_parser(
        "replay",
        help="run the fusion engine over replay lines (storegw journal --format replay) and print the receipts",
    )
    replaying.add_argument("input", type=Path, help="a file of replay lines, or - for standard input")
    replaying.add_argument("--layout", type=Path, required=True, help="the store layout (TOML)")
    explaining = commands.add_parser("explain", help="a session's receipt with the events behind each line")
    explaining.add_argument("session", help="the session id, as on the receipt (s-...)")
    watching = commands.add_parser("top", help="the store live in the terminal, from the gateway's dashboard topics")
    watching.add_argument("--user", default=DASHBOARD, help="the broker account (read-only dashboard by default)")
    watching.add_argument("--password-file", type=Path, help="default: the site's keys/USER.mqtt-password")
    watching.add_argument(
        "--once", action="store_true", help="print one screen after the retained topics arrive, and exit"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose or args.command == "run" else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.command == "run":
            return _run(args.config)
        if args.command == "journal":
            return _journal(args)
        if args.command == "replay":
            return _replay(args)
        if args.command == "explain":
            return _explain(args)
        if args.command == "top":
            return _top(args)
        return _devices(args)
    except (ConfigError, KeyFileError) as error:
        print(f"storegw: {error}", file=sys.stderr)
        return 2
    except JournalError as error:
        print(f"storegw: {error}", file=sys.stderr)
        return 2
    except JournalProcessError as error:
        print(f"storegw: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())

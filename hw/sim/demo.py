"""`make demo`: a whole simulated store on this machine, from the gate to the receipt.

It provisions a fresh site for the store of deploy/layouts/small-store.toml (five shelves,
five cameras, one gate) and plans a store world on it: shoppers come in one after another
and overlap, take things, sometimes put one back. Each node then runs as a real process
(`storenode run`, backend sim) whose simulated hardware the world drives (the full path,
hw/sim/world/drives.py): the shelf nodes' load cells feel the world's hands, the cameras
render the world's people at their shelf and see them with their own model, and the gate's
shoppers show app codes (signed by the reference upstream's key) and walk through its lane.
The broker (Mosquitto with the generated config, or amqtt in process when Mosquitto is
missing), the gateway with the store's layout, and the reference upstream on its own broker
behind the store broker's bridge all run as they would in a store.

While it runs, it shows the sessions and their carts as the gateway's fusion sees them (the
demo replays the gateway's journal as it grows), kills the gateway with SIGKILL part-way and
restarts it. Every node's diagnostics console is on a simulated cable whose other end,
var/demo/consoles/NODE, `storediag` opens as a technician would. At the end, each receipt
beside the world's ground truth, and the accuracy.
"""

import argparse
import json
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from edge.protocol.clock import wall_ms
from edge.protocol.envelope import SIGNATURE_BYTES
from edge.protocol.filemodes import PRIVATE_FILE
from edge.protocol.keys import load_signing_key, write_file_atomic
from edge.protocol.messages import Receipt, decode_message
from edge.protocol.roles import Role
from gateway.fusion.engine import FusionEngine
from gateway.layout import SMALL_STORE, StoreLayout, load_layout
from gateway.provisioning.site import DASHBOARD, Site
from hw.sim.broker import AmqttBroker, MosquittoBroker, UpstreamMosquitto, find_mosquitto, free_port, start_broker
from hw.sim.camera_source import reference_floor_mm
from hw.sim.null_modem import NullModem
from hw.sim.site import build_site, upstream_home_of
from hw.sim.world.drives import CameraDrive, Drive, build_drives, reference_view, save_drive
from hw.sim.world.plan import Visit
from hw.sim.world.store import TrueReceipt
from hw.sim.world.suites import plan_store

LEAD_MS = 15_000  # from starting the processes to the store opening: cameras load their model
ARRIVALS_MS = (8_000, 18_000)  # between one shopper's arrival and the next
SETTLE_S = 25.0  # after the last shopper left, how long the receipts may take
# Written into every --root the demo makes: it deletes and remakes only a folder holding it.
MARKER = ".storeedge-demo"


@dataclass
class Running:
    name: str
    process: subprocess.Popen[bytes]
    output: Path


def spawn(name: str, root: Path, *args: str) -> Running:
    """Start a process with its logs in NAME.log and what it prints in NAME.out."""
    output = root / f"{name}.out"
    with open(root / f"{name}.log", "ab") as log, open(output, "ab") as out:
        process = subprocess.Popen([sys.executable, *args], stdout=out, stderr=log)
    return Running(name, process, output)


def claim_root(root: Path) -> str | None:
    """Why the demo may not take `root` (it empties it first), or None: a new or empty
    folder, or one an earlier demo made."""
    if not root.exists():
        return None
    if not root.is_dir() or root.is_symlink():
        return f"{root} is not a folder; give --root a new or empty folder"
    if (root / MARKER).is_file() or not any(root.iterdir()) or _left_by_an_older_demo(root):
        return None
    return f"{root} holds files the demo did not make; give --root a new or empty folder, or remove it yourself"


def _left_by_an_older_demo(root: Path) -> bool:
    """What a demo from before the marker left (`make demo`'s var/demo): its site and consoles
    folders and its processes' logs, and nothing else. Refusing it would stop a newcomer's
    second `make demo` for a folder the demo made."""
    names = {entry.name for entry in root.iterdir()}
    logs = {name for name in names if name.endswith((".log", ".out"))}
    return {"site", "consoles"} <= names and bool(logs) and names - logs == {"site", "consoles"}


def nodes_of(layout: StoreLayout) -> list[tuple[str, Role]]:
    return (
        [(shelf.shelf, Role.SHELF) for shelf in layout.shelves]
        + [(camera.node, Role.CAMERA) for camera in layout.cameras]
        + [(gate.gate, Role.GATE) for gate in layout.gates]
    )


def configure_nodes(site: Site, layout: StoreLayout, drives: dict[str, Drive], consoles: Path) -> None:
    """Each node's drive file beside its config, named in [hardware]; a camera's floor marks
    where its shelf stands on the store floor; its console on the node's end of a simulated
    cable in `consoles` (NODE.uart; the technician's end is NODE)."""
    for seed, (node, _) in enumerate(nodes_of(layout), start=1):
        folder = site.node_dir(node)
        save_drive(folder / "drive.json", drives[node])
        path = folder / "node.toml"
        config = tomllib.loads(path.read_text())
        config["hardware"] = {"backend": "sim", "seed": seed, "drive": "drive.json"}
        config["health"] = {"interval_s": 5}
        config["console"] = {"port": str((consoles / f"{node}.uart").resolve())}
        drive = drives[node]
        if isinstance(drive, CameraDrive):
            view = reference_view(layout.shelf_by_id[drive.shelf])
            config["camera"]["floor_mm"] = [list(mark) for mark in reference_floor_mm(view, drive)]
        path.write_text(tomli_w.dumps(config))


def use_layout(site: Site, layout_file: Path) -> None:
    """The gateway fuses with the store's layout (a copy kept with the site)."""
    write_file_atomic(site.root / "layout.toml", layout_file.read_bytes(), PRIVATE_FILE)
    site.gateway_config.write_text('layout = "layout.toml"\n' + site.gateway_config.read_text())


class JournalWatch:
    """The gateway's journal as it grows, replayed into an engine of the demo's own, read-only:
    the sessions and carts the gateway's fusion has at this moment."""

    def __init__(self, journal: Path, layout: StoreLayout) -> None:
        self.path = journal
        self.engine = FusionEngine(layout)
        self.last_id = 0

    def _query(self, sql: str, params: tuple[object, ...] = ()) -> list[Any]:
        if not self.path.exists():
            return []
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5)
        try:
            return db.execute(sql, params).fetchall()
        except sqlite3.OperationalError:  # the gateway has not made its tables yet
            return []
        finally:
            db.close()

    def poll(self) -> None:
        rows = self._query("SELECT id, recv_ms, payload FROM journal WHERE id > ? ORDER BY id", (self.last_id,))
        for row_id, recv_ms, payload in rows:
            self.engine.apply(decode_message(bytes(payload)[SIGNATURE_BYTES:]), int(recv_ms))
            self.last_id = int(row_id)

    def delivered(self, dev: str) -> tuple[int, int]:
        """A device's events in the journal: rows, and distinct ones."""
        rows = self._query("SELECT count(*), count(DISTINCT seq) FROM journal WHERE dev=? AND seq > 0", (dev,))
        return (int(rows[0][0]), int(rows[0][1])) if rows else (0, 0)

    def receipts(self) -> list[Receipt]:
        """The receipts the gateway has issued (each signed, queued for upstream)."""
        found = []
        for (payload,) in self._query("SELECT payload FROM receipts ORDER BY id"):
            message = decode_message(bytes(payload)[SIGNATURE_BYTES:])
            if isinstance(message, Receipt):
                found.append(message)
        return found


def cart_text(lines: list[tuple[str, int]] | tuple[tuple[str, int], ...]) -> str:
    return ", ".join(f"{qty}x {sku}" for sku, qty in lines) or "nothing"


def live_view(watch: JournalWatch, issued: list[Receipt], visits: list[Visit], world_ms: int, note: str) -> str:
    inside = sum(1 for v in visits for p in v.people if p.entered_ms <= world_ms < p.left_ms)
    out = [
        f"{note}",
        f"shoppers inside (world): {inside}   messages journaled: {watch.last_id}   receipts: {len(issued)}",
        "",
        f"{'session':20} {'account':11} {'state':7} cart",
    ]
    for session_id, session in list(watch.engine.sessions.items())[-10:]:
        receipt = watch.engine.receipt_so_far(session_id)
        state = "inside" if session.present else "left"
        cart = cart_text(receipt.lines) if receipt else ""
        out.append(f"{session_id:20} {session.account or '?':11} {state:7} {cart}")
    for final in issued[-6:]:
        lines = [(sku, qty) for sku, qty in final.lines]
        review = "  (review)" if final.review else ""
        out.append(f"{final.session:20} {final.account or '?':11} {'receipt':7} {cart_text(lines)}{review}")
    return "\n".join(out)


def show(text: str) -> None:
    if sys.stdout.isatty():
        sys.stdout.write("\x1b[H\x1b[J")
    print(text + "\n", flush=True)


def compare(truth: dict[str, TrueReceipt], receipts: list[Receipt]) -> tuple[list[str], int, int]:
    """Each true receipt beside the gateway's for the same account: the lines to print, how
    many are exactly right, and how many went for review."""
    by_account = {r.account: r for r in receipts}
    rows = [f"{'account':11} | {'ground truth':38} | {'receipt':38} | right"]
    exact = review = 0
    for true in sorted(truth.values(), key=lambda t: t.opened_ms):
        receipt = by_account.get(true.account)
        lines = None if receipt is None else [(sku, qty) for sku, qty in receipt.lines]
        got = "(none)" if lines is None else cart_text(lines)
        right = lines == list(true.lines)
        exact += right
        review += receipt is not None and receipt.review
        mark = ("yes" if right else "NO") + (" (review)" if receipt is not None and receipt.review else "")
        rows.append(f"{true.account:11} | {cart_text(true.lines):38} | {got:38} | {mark}")
    return rows, exact, review


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hw.sim.demo", description=__doc__)
    parser.add_argument("--root", type=Path, default=Path("var/demo"))
    parser.add_argument("--layout", type=Path, default=SMALL_STORE)
    parser.add_argument("--shoppers", type=int, default=8)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--amqtt", action="store_true", help="use amqtt even when Mosquitto is installed")
    args = parser.parse_args(argv)
    refusal = claim_root(args.root)
    if refusal is not None:
        print(f"hw.sim.demo: {refusal}", file=sys.stderr)
        return 2
    if args.root.exists():
        shutil.rmtree(args.root)
    args.root.mkdir(parents=True)
    (args.root / MARKER).write_text("made by python -m hw.sim.demo, which deletes this folder when it runs again\n")
    layout = load_layout(args.layout)
    port, upstream_port = free_port(), free_port()
    site = build_site(
        args.root / "site",
        layout.store,
        nodes_of(layout),
        port,
        watches={camera.node: camera.shelves[0] for camera in layout.cameras},
        upstream_port=upstream_port,
    )
    use_layout(site, args.layout)
    home = upstream_home_of(site)
    visits, resolved, start_ms = plan_store(layout, args.shoppers, args.seed, ARRIVALS_MS)
    wall0 = wall_ms() + LEAD_MS
    key = load_signing_key(home.sign_key)
    drives = build_drives(layout, visits, resolved, start_ms, wall0, key, random.Random(args.seed))
    consoles = args.root / "consoles"
    consoles.mkdir()
    configure_nodes(site, layout, drives, consoles)
    modems = [NullModem(consoles / f"{node}.uart", consoles / node).plug() for node, _ in nodes_of(layout)]
    technician = f".venv/bin/storediag --port {consoles / layout.shelves[0].shelf} watch read"
    last_out = max(p.left_ms for v in visits for p in v.people) - start_ms

    binary = None if args.amqtt else find_mosquitto()
    upstream_broker = UpstreamMosquitto(home, upstream_port, binary).start() if binary else None
    broker: MosquittoBroker | AmqttBroker = (
        AmqttBroker(port).start() if binary is None else start_broker(site, port, allow_amqtt=False)
    )
    print(f"broker: {broker.kind} on {broker.host}:{broker.port}; watch the store with")
    print(f"  .venv/bin/storegw --config {site.gateway_config} top")
    print("or every message with")
    print(
        f"  mosquitto_sub -h {broker.host} -p {broker.port} -u {DASHBOARD} "
        f"-P \"$(cat {site.dashboard_password})\" -t 'store/{layout.store}/#' -v"
    )
    gateway_args = ("-m", "gateway.cli", "--config", str(site.gateway_config), "run")
    processes = [spawn("gateway", args.root, *gateway_args)]
    if upstream_broker is not None:
        processes.append(spawn("upstream", args.root, "-m", "upstream.cli", "--home", str(home.root), "run"))
    for node, _ in nodes_of(layout):
        config = str(site.node_dir(node) / "node.toml")
        processes.append(spawn(node, args.root, "-m", "edge.runtime.cli", "--config", config, "run"))
    print(f"{len(processes)} processes started; logs in {args.root}/")

    watch = JournalWatch(site.root / "state" / "journal.db", layout)
    crash_at, restart_at = 0.45 * last_out, 0.45 * last_out + 6_000
    if broker.kind != "mosquitto":
        # amqtt keeps no queue for an offline persistent session: only Mosquitto is trusted
        # with the gateway's crash
        crash_at = restart_at = float("inf")
    crashed = restarted = False
    deadline = wall0 + last_out + SETTLE_S * 1000
    try:
        while (now := wall_ms()) < deadline:
            elapsed = now - wall0
            note = f"store time {elapsed / 1000:+6.1f} s of {last_out / 1000:.0f} s"
            if elapsed < 0:
                note += "   (nodes starting; the store opens at 0)"
            if not crashed and elapsed >= crash_at:
                processes[0].process.send_signal(signal.SIGKILL)
                processes[0].process.wait()
                crashed = True
            if crashed and not restarted:
                note += "   gateway killed with SIGKILL: nodes spool, the broker queues"
                if elapsed >= restart_at:
                    processes[0] = spawn("gateway", args.root, *gateway_args)
                    restarted = True
            elif restarted and elapsed < restart_at + 8_000:
                note += "   gateway restarted: it replays its journal and catches up"
            watch.poll()
            issued = watch.receipts()
            show(live_view(watch, issued, visits, start_ms + elapsed, note) + f"\n\na technician's view: {technician}")
            if elapsed > last_out and len(issued) >= len(resolved.receipts):
                break
            time.sleep(1)
        # the nodes stop first and the gateway journals what they sent last before it stops too
        stop([running for running in processes if running.name not in ("gateway", "upstream")])
        time.sleep(2)
        watch.poll()
    finally:
        stop(processes)
        for modem in modems:
            modem.close()
        broker.stop()
        if upstream_broker is not None:
            upstream_broker.stop()
    lost = accounting(watch, processes[1:])
    issued = watch.receipts()
    rows, exact, review = compare(resolved.receipts, issued)
    print("\n" + "\n".join(rows))
    total = len(resolved.receipts)
    print(f"\nexactly right: {exact} of {total} ({exact / total:.0%}); sent for review: {review}")
    if upstream_broker is not None:
        print(f"upstream's copy: .venv/bin/storeup --home {home.root} receipts")
    print(f"how a receipt came about: .venv/bin/storegw --config {site.gateway_config} explain SESSION")
    return 0 if len(issued) == total and lost == 0 else 1


def stop(processes: list[Running]) -> None:
    for running in processes:
        if running.process.poll() is None:
            running.process.send_signal(signal.SIGTERM)
    for running in processes:
        try:
            running.process.wait(15)
        except subprocess.TimeoutExpired:
            running.process.kill()
            running.process.wait()


def accounting(watch: JournalWatch, nodes: list[Running]) -> int:
    """What each node made beside what the journal holds (printed); how many events were lost."""
    print(f"\n{'node':10} {'made':>6} {'journaled':>9} {'spooled':>8} {'lost':>5} {'twice':>6}")
    total_lost = total_twice = 0
    for running in nodes:
        if running.name == "upstream":
            continue
        summary = json.loads(running.output.read_text().strip().splitlines()[-1])
        made, spooled = int(summary["made"]), int(summary["spool"])
        rows, distinct = watch.delivered(running.name)
        lost, twice = made - distinct - spooled, rows - distinct
        total_lost += lost
        total_twice += twice
        print(f"{running.name:10} {made:>6} {rows:>9} {spooled:>8} {lost:>5} {twice:>6}")
    print(f"lost {total_lost}, journaled twice {total_twice}")
    return total_lost + total_twice


if __name__ == "__main__":
    sys.exit(main())

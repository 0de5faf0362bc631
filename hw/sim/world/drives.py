"""The full path's input: what the world makes each device's simulated hardware feel, as a
drive file per node. Pure: the resolved world in, drives out; `save_drive`/`load_drive` are
the files' edge.

- A shelf's drive is each lane's load: its level at the start and every change the world's
  hands made, in time order (hw/sim/shelf_source.py plays them through the simulated load
  cells, hand tremor and noise included).
- A camera's drive is its shelf's place on the store floor and everyone who comes into its
  reference mount's view, on that view's own floor frame: the path they walk and each reach
  into a lane, with what the hand holds going in and coming out (hw/sim/camera_source.py
  renders it and the camera's own model sees it).
- A gate's drive is what its shoppers do there: show an app code (signed by upstream's key,
  valid from the moment it is shown), walk in once the barrier opens, walk out
  (hw/sim/gate_drive.py acts it out on the simulated lane).

Times are milliseconds from the drive's `wall0_ms`, the wall-clock time the world starts at,
which every node of one store shares.
"""

import random
from pathlib import Path
from typing import Literal, TypeVar

import msgspec
from nacl.signing import SigningKey

from edge.protocol.configfile import ConfigError
from edge.protocol.filemodes import PRIVATE_FILE
from edge.protocol.keys import write_file_atomic
from gateway.layout import Shelf, StoreLayout
from hw.sim.camera_render import HELD_OUT_TEXTURES, ShelfView
from hw.sim.world.plan import Person, Visit
from hw.sim.world.store import Resolved
from upstream.tokens import app_token

STOCK_ITEMS = 30  # what each lane holds at the start: more than a demo's shoppers take
TRAY_MG = (250_000, 700_000)
TREMOR_MG = (10_000, 40_000)  # a hand in the lane wobbles the load by up to this much
TOKEN_TTL_MS = 300_000
SEEN_MARGIN_MM = 500  # people this far beside the view walk in and out of it
STEP_MS = 200  # a path's keyframes in a camera's drive


class LaneChange(msgspec.Struct, frozen=True, array_like=True):
    t0: int  # the hand's first touch
    t1: int  # settled
    delta_mg: int
    tremor_mg: int


class LaneDrive(msgspec.Struct, frozen=True):
    lane: int
    start_mg: int
    changes: list[LaneChange]


class ShelfDrive(msgspec.Struct, frozen=True, tag="shelf"):
    wall0_ms: int
    lanes: list[LaneDrive]


class Move(msgspec.Struct, frozen=True, array_like=True):
    """A hand in one lane (by its index in the view) from t0 to t1, holding `item_in` (a
    product texture) until halfway, `item_out` after."""

    lane_index: int
    t0: int
    t1: int
    item_in: int | None
    item_out: int | None


class Walk(msgspec.Struct, frozen=True):
    person: int
    path: list[tuple[int, int, int]]  # (t, x_mm, y_mm) on the view's floor, walked straight between
    moves: list[Move]


class CameraDrive(msgspec.Struct, frozen=True, tag="camera"):
    wall0_ms: int
    shelf: str
    origin_mm: tuple[int, int]  # the store floor point of the shelf's left end, at its front
    facing: Literal["+y", "-y"]
    products: list[int]  # the texture of each lane's product, in lane order
    walks: list[Walk]


class GateAct(msgspec.Struct, frozen=True, array_like=True):
    t: int
    act: Literal["show", "in", "out"]
    person: int
    token: str | None = None


class GateDrive(msgspec.Struct, frozen=True, tag="gate"):
    wall0_ms: int
    acts: list[GateAct]


Drive = ShelfDrive | CameraDrive | GateDrive
D = TypeVar("D", ShelfDrive, CameraDrive, GateDrive)


def to_store(drive: CameraDrive, x_mm: float, y_mm: float) -> tuple[float, float]:
    """A point of the view's floor frame on the store floor: x runs along the shelf from its
    left end, y away from its front into the aisle."""
    ox, oy = drive.origin_mm
    return ox + x_mm, oy + (y_mm if drive.facing == "+y" else -y_mm)


def _to_view(shelf: Shelf, x: float, y: float) -> tuple[float, float]:
    return x - shelf.x_mm, (y - shelf.y_mm) if shelf.facing == "+y" else (shelf.y_mm - y)


def texture(layout: StoreLayout, sku: str) -> int:
    """The picture a product's packs show to the cameras: held-out textures, never trained on."""
    index = [product.sku for product in layout.products].index(sku)
    return HELD_OUT_TEXTURES + (index * 7_919) % HELD_OUT_TEXTURES


def build_drives(
    layout: StoreLayout,
    visits: list[Visit],
    resolved: Resolved,
    start_ms: int,
    wall0_ms: int,
    upstream_key: SigningKey,
    rng: random.Random,
) -> dict[str, Drive]:
    """Every node's drive, by node id: each shelf, each camera watching one shelf, the gate.
    `start_ms` is the world time that `wall0_ms` stands for."""
    drives: dict[str, Drive] = {}
    for shelf in layout.shelves:
        drives[shelf.shelf] = _shelf(layout, shelf, resolved, start_ms, wall0_ms, rng)
    people = [person for visit in visits for person in visit.people]
    for camera in layout.cameras:
        if len(camera.shelves) != 1:
            raise ConfigError(f"{camera.node}: a simulated camera renders one shelf, not {len(camera.shelves)}")
        shelf = layout.shelf_by_id[camera.shelves[0]]
        drives[camera.node] = _camera(layout, shelf, people, start_ms, wall0_ms)
    gate = layout.gates[0]
    drives[gate.gate] = _gate(visits, start_ms, wall0_ms, upstream_key)
    return drives


def _shelf(
    layout: StoreLayout, shelf: Shelf, resolved: Resolved, start_ms: int, wall0_ms: int, rng: random.Random
) -> ShelfDrive:
    lanes = []
    for slot in shelf.lanes:
        unit = layout.catalogue[slot.sku].unit_mg
        changes = [
            LaneChange(change.t0 - start_ms, change.t1 - start_ms, change.delta_mg, rng.randint(*TREMOR_MG))
            for change in resolved.changes
            if change.shelf == shelf.shelf and change.lane == slot.lane
        ]
        lanes.append(LaneDrive(slot.lane, rng.randint(*TRAY_MG) + STOCK_ITEMS * unit, changes))
    return ShelfDrive(wall0_ms, lanes)


def reference_view(shelf: Shelf) -> ShelfView:
    """The sim camera's view of a layout shelf: the reference mount, whose lanes must be the
    shelf's and as wide as the mount's."""
    view = ShelfView(lanes=tuple(slot.lane for slot in shelf.lanes))
    width = view.shelf_w_mm / len(shelf.lanes)
    if any(slot.width_mm != width for slot in shelf.lanes):
        raise ConfigError(f"{shelf.shelf}: the reference camera mount needs {len(shelf.lanes)} lanes of {width:g} mm")
    return view


def _camera(layout: StoreLayout, shelf: Shelf, people: list[Person], start_ms: int, wall0_ms: int) -> CameraDrive:
    view = reference_view(shelf)
    index = {slot.lane: n for n, slot in enumerate(shelf.lanes)}
    x_range = (view.shelf_x_mm - SEEN_MARGIN_MM, view.shelf_x_mm + view.shelf_w_mm + SEEN_MARGIN_MM)
    y_range = (view.shelf_y_mm + 150, view.shelf_y_mm + view.aisle_mm)
    walks: list[Walk] = []
    for person in people:
        path: list[tuple[int, int, int]] = []
        spans: list[list[tuple[int, int, int]]] = []
        for t in range(person.path[0][0], person.path[-1][0] + 1, STEP_MS):
            where = person.at(t)
            assert where is not None
            x, y = _to_view(shelf, *where)
            if x_range[0] <= x <= x_range[1] and y_range[0] <= y <= y_range[1]:
                path.append((t - start_ms, round(x), round(y)))
            elif path:
                spans.append(path)
                path = []
        if path:
            spans.append(path)
        picked: dict[int, int] = {}  # reach index: the texture of what it took
        moves: list[Move] = []
        for n, reach in enumerate(person.reaches):
            first = texture(layout, layout.lane_spots[(reach.shelf, reach.lanes[0])].sku)
            if reach.shelf != shelf.shelf:
                if reach.kind == "pick":
                    picked[n] = first
                continue
            held_in: int | None = None
            held_out: int | None = None
            if reach.kind == "pick" or (reach.kind == "rest" and reach.rest_then_take):
                held_out = picked[n] = first
            elif reach.kind == "put" and reach.put_of is not None:
                held_in = picked.get(reach.put_of, first)
            t0, t1 = reach.t0 - start_ms, reach.t1 - start_ms
            if len(reach.lanes) == 1:
                moves.append(Move(index[reach.lanes[0]], t0, t1, held_in, held_out))
            else:  # the hand sweeps from one lane into the next
                middle = (t0 + t1) // 2
                moves.append(Move(index[reach.lanes[0]], t0, middle, held_in, held_out))
                moves.append(Move(index[reach.lanes[1]], middle, t1, held_out, held_out))
        for span in spans:
            inside = [m for m in moves if span[0][0] <= m.t0 and m.t1 <= span[-1][0]]
            walks.append(Walk(person.id, span, inside))
    products = [texture(layout, slot.sku) for slot in shelf.lanes]
    return CameraDrive(wall0_ms, shelf.shelf, (shelf.x_mm, shelf.y_mm), shelf.facing, products, walks)


def _gate(visits: list[Visit], start_ms: int, wall0_ms: int, key: SigningKey) -> GateDrive:
    acts: list[GateAct] = []
    for visit in visits:
        for person in visit.people:
            shown = person.shown_ms - start_ms
            token = app_token(key, visit.account, "entry", wall0_ms + shown, TOKEN_TTL_MS)
            acts.append(GateAct(shown, "show", person.id, token))
            acts.append(GateAct(person.entered_ms - start_ms, "in", person.id))
            acts.append(GateAct(person.left_ms - start_ms, "out", person.id))
    acts.sort(key=lambda act: (act.t, act.person))
    return GateDrive(wall0_ms, acts)


def save_drive(path: Path, drive: Drive) -> None:
    """Private, as everything beside a node's config: a gate's drive holds app codes."""
    write_file_atomic(path, msgspec.json.encode(drive), PRIVATE_FILE)


def load_drive(path: Path, kind: type[D]) -> D:
    """A node's drive file; a clear error when it is missing, malformed or another role's."""
    try:
        drive = msgspec.json.decode(path.read_bytes(), type=Drive)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as error:
        raise ConfigError(f"cannot read the world drive {path}: {error}") from error
    if not isinstance(drive, kind):
        raise ConfigError(f"{path} drives a {type(drive).__name__}, not a {kind.__name__}")
    return drive

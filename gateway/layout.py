"""The store layout (DESIGN section 8): the floor frame, the gates, the shelves with their
lanes and planogram, the cameras and the product catalogue, from one TOML file.

The gateway's fusion engine and the simulated store world read the same file, so what the
engine believes about the store is exactly what the world was built from. Everything is
checked when the file is read: a lane naming a product the catalogue lacks, two shelves
with one id, a camera watching a shelf that does not exist are errors naming the place.
"""

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Final, Literal

import msgspec
from msgspec import Meta

from edge.protocol.configfile import ConfigError, NodeId, Section, read_toml
from edge.protocol.messages import Sku

Mm = Annotated[int, Meta(ge=-1_000_000, le=1_000_000)]
PositiveMm = Annotated[int, Meta(ge=1, le=1_000_000)]
Mg = Annotated[int, Meta(ge=1, le=100_000_000)]


class Product(Section, frozen=True):
    sku: Sku
    name: str
    price_cents: Annotated[int, Meta(ge=0, le=10_000_000)]
    unit_mg: Mg  # what one item weighs on average
    spread_mg: Annotated[int, Meta(ge=0, le=10_000_000)]  # its standard deviation, item to item


class LaneSlot(Section, frozen=True):
    lane: Annotated[int, Meta(ge=0, le=1023)]
    sku: Sku  # what the planogram puts there
    width_mm: PositiveMm = 300


class Shelf(Section, frozen=True):
    """A shelf unit's front edge runs along x from (x_mm, y_mm); shoppers stand on the side it faces."""

    shelf: NodeId  # the `shelf` of its weight events
    x_mm: Mm
    y_mm: Mm
    facing: Literal["+y", "-y"]
    lanes: Annotated[list[LaneSlot], Meta(min_length=1, max_length=64)]
    reach_mm: PositiveMm = 400  # how far in front of the edge a reaching shopper stands


class Gate(Section, frozen=True):
    gate: NodeId  # the `gate` of its passages
    x_mm: Mm
    y_mm: Mm


Rect = tuple[float, float, float, float]  # x0, y0, x1, y1
BEYOND_MM: Final = 1e9
GATE_SIDE_MM: Final = 1_500.0  # how far along the wall on either side of a gate its way out reaches


class Camera(Section, frozen=True):
    """A camera node: the shelves whose lanes it watches and the floor rectangle in which it
    reports people, [x0, y0, x1, y1] in store millimetres."""

    node: NodeId
    view: tuple[Mm, Mm, Mm, Mm]
    shelves: list[NodeId] = []


class StoreLayout(Section, frozen=True, dict=True):
    store: NodeId
    floor: tuple[PositiveMm, PositiveMm]  # width (x) and depth (y) of the floor frame
    gates: Annotated[list[Gate], Meta(min_length=1)]
    shelves: list[Shelf]
    cameras: list[Camera]
    products: list[Product]

    @cached_property
    def catalogue(self) -> dict[str, Product]:
        return {product.sku: product for product in self.products}

    @cached_property
    def shelf_by_id(self) -> dict[str, Shelf]:
        return {shelf.shelf: shelf for shelf in self.shelves}

    @cached_property
    def gate_by_id(self) -> dict[str, Gate]:
        return {gate.gate: gate for gate in self.gates}

    @cached_property
    def outside(self) -> tuple[Rect, ...]:
        """Per gate, the floor between the gate and the wall it stands by, and all beyond it:
        whoever is seen there has not come in yet, or has left."""
        width, depth = self.floor
        rects: list[Rect] = []
        for gate in self.gates:
            x, y = gate.x_mm, gate.y_mm
            walls = {"x0": x, "x1": width - x, "y0": y, "y1": depth - y}
            wall = min(walls, key=walls.__getitem__)
            along_x = (x - GATE_SIDE_MM, x + GATE_SIDE_MM)
            along_y = (y - GATE_SIDE_MM, y + GATE_SIDE_MM)
            rects.append(
                {
                    "x0": (-BEYOND_MM, along_y[0], x, along_y[1]),
                    "x1": (x, along_y[0], BEYOND_MM, along_y[1]),
                    "y0": (along_x[0], -BEYOND_MM, along_x[1], y),
                    "y1": (along_x[0], y, along_x[1], BEYOND_MM),
                }[wall]
            )
        return tuple(rects)

    @cached_property
    def lane_spots(self) -> dict[tuple[str, int], "LaneSpot"]:
        """Every lane by (shelf, lane): its product and where a shopper reaching into it stands."""
        spots: dict[tuple[str, int], LaneSpot] = {}
        for shelf in self.shelves:
            x = shelf.x_mm
            side = -1 if shelf.facing == "-y" else 1
            for slot in shelf.lanes:
                spots[(shelf.shelf, slot.lane)] = LaneSpot(
                    shelf.shelf, slot.lane, slot.sku, x + slot.width_mm // 2, shelf.y_mm + side * shelf.reach_mm
                )
                x += slot.width_mm
        return spots


@dataclass(frozen=True, slots=True)
class LaneSpot:
    shelf: str
    lane: int
    sku: str
    x_mm: int  # where a shopper reaching into the lane stands
    y_mm: int


def _check(layout: StoreLayout) -> None:
    problems: list[str] = []

    def unique(kind: str, ids: list[str]) -> None:
        seen: set[str] = set()
        for value in ids:
            if value in seen:
                problems.append(f"two {kind} named {value!r}")
            seen.add(value)

    unique("products", [p.sku for p in layout.products])
    unique("shelves", [s.shelf for s in layout.shelves])
    unique("gates", [g.gate for g in layout.gates])
    unique("cameras", [c.node for c in layout.cameras])
    skus = {p.sku for p in layout.products}
    shelves = {s.shelf for s in layout.shelves}
    for shelf in layout.shelves:
        unique(f"lanes on shelf {shelf.shelf}", [str(slot.lane) for slot in shelf.lanes])
        for slot in shelf.lanes:
            if slot.sku not in skus:
                problems.append(f"shelf {shelf.shelf} lane {slot.lane} holds {slot.sku!r}, which the catalogue lacks")
    for camera in layout.cameras:
        x0, y0, x1, y1 = camera.view
        if not (x0 < x1 and y0 < y1):
            problems.append(
                f"camera {camera.node}'s view {list(camera.view)} is not [x0, y0, x1, y1] with x0<x1, y0<y1"
            )
        for shelf_id in camera.shelves:
            if shelf_id not in shelves:
                problems.append(f"camera {camera.node} watches shelf {shelf_id!r}, which the layout lacks")
    if problems:
        raise ConfigError("; ".join(problems))


def load_layout(path: Path) -> StoreLayout:
    layout = read_toml(path, StoreLayout)
    try:
        _check(layout)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    return layout


def parse_layout(text: str) -> StoreLayout:
    """A layout from TOML text (checked as load_layout checks a file)."""
    try:
        layout = msgspec.toml.decode(text.encode(), type=StoreLayout)
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise ConfigError(f"store layout: {error}") from None
    _check(layout)
    return layout


SMALL_STORE = Path(__file__).resolve().parent.parent / "deploy" / "layouts" / "small-store.toml"

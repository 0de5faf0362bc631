"""The store layout: the shipped example loads, lanes stand where the shelf puts them, and
every inconsistency is refused with the place named."""

from pathlib import Path

import pytest

from edge.protocol.configfile import ConfigError
from gateway.layout import SMALL_STORE, load_layout, parse_layout

GOOD = """
store = "t"
floor = [4000, 3000]
gates = [{ gate = "gate-01", x_mm = 500, y_mm = 100 }]
[[shelves]]
shelf = "shelf-01"
x_mm = 1000
y_mm = 2800
facing = "-y"
lanes = [{ lane = 0, sku = "a", width_mm = 200 }, { lane = 1, sku = "b" }]
[[cameras]]
node = "camera-01"
shelves = ["shelf-01"]
view = [0, 1000, 4000, 3000]
[[products]]
sku = "a"
name = "A"
price_cents = 100
unit_mg = 100000
spread_mg = 1000
[[products]]
sku = "b"
name = "B"
price_cents = 200
unit_mg = 300000
spread_mg = 2000
"""


def test_the_small_store_loads_with_its_planogram() -> None:
    layout = load_layout(SMALL_STORE)
    assert layout.store == "demo"
    assert len(layout.lane_spots) == 20
    assert all(spot.sku in layout.catalogue for spot in layout.lane_spots.values())
    watched = {shelf for camera in layout.cameras for shelf in camera.shelves}
    assert watched == set(layout.shelf_by_id)


def test_beyond_a_gate_is_the_band_between_it_and_its_wall() -> None:
    layout = load_layout(SMALL_STORE)
    ((x0, y0, x1, y1),) = layout.outside  # gate-01 stands 150 mm in from the y = 0 wall
    assert (x0, x1, y1) == (700 - 1500, 700 + 1500, 150) and y0 < -1e6


def test_lanes_stand_in_front_of_their_share_of_the_shelf() -> None:
    layout = parse_layout(GOOD)
    first, second = layout.lane_spots[("shelf-01", 0)], layout.lane_spots[("shelf-01", 1)]
    assert (first.x_mm, first.y_mm, first.sku) == (1100, 2400, "a")  # 200 mm lane, 400 mm in front, facing -y
    assert (second.x_mm, second.y_mm, second.sku) == (1350, 2400, "b")  # default 300 mm lane


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (('sku = "b" }]', 'sku = "zz" }]'), "lane 1 holds 'zz', which the catalogue lacks"),
        (('shelves = ["shelf-01"]', 'shelves = ["shelf-09"]'), "watches shelf 'shelf-09'"),
        (("view = [0, 1000, 4000, 3000]", "view = [4000, 1000, 0, 3000]"), "is not [x0, y0, x1, y1]"),
        (('{ lane = 1, sku = "b" }', '{ lane = 0, sku = "b" }'), "two lanes on shelf shelf-01 named '0'"),
        (('facing = "-y"', 'facing = "up"'), "facing"),
        (("unit_mg = 100000", "unit_mg = 0"), "unit_mg"),
    ],
)
def test_an_inconsistent_layout_is_refused_naming_the_place(change: tuple[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace("[", r"\[").replace("]", r"\]")):
        parse_layout(GOOD.replace(*change))


def test_a_layout_file_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "layout.toml"
    path.write_text(GOOD.replace('sku = "b" }]', 'sku = "zz" }]'))
    with pytest.raises(ConfigError, match=str(path)):
        load_layout(path)

"""Records as storediag shows them: tables, listings and units."""

from edge.diag.render import render


def test_a_single_record_is_a_listing_with_units_in_the_names() -> None:
    assert render([{"node": "shelf-01", "temp_c10": 482, "spool": 0, "weight_mg": -1500}]) == [
        "node        shelf-01",
        "temp (°C)   48.2",
        "spool       0",
        "weight (g)  -1.500",
    ]


def test_records_alike_make_a_table_with_numbers_to_the_right() -> None:
    lines = render([{"lane": 0, "state": "settled", "hand_pm": 12}, {"lane": 10, "state": "moving", "hand_pm": 998}])
    assert lines == [
        "lane  state    hand (%)",
        "----  -------  --------",
        "   0  settled       1.2",
        "  10  moving       99.8",
    ]


def test_groups_of_different_records_are_set_apart() -> None:
    lines = render([{"spool": 2}, {"type": "weight", "waiting": 1}, {"type": "health", "waiting": 1}])
    assert lines[:2] == ["spool  2", ""]
    assert lines[2].split() == ["type", "waiting"]


def test_values_that_are_not_numbers_are_shown_as_they_are() -> None:
    assert render([{"weight_mg": "-"}]) == ["weight (g)  -"]
    assert render([]) == []

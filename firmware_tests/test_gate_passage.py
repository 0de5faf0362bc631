"""The passage decoder: two beams, and which way a person went through."""

from edge.gate.passage import Beam, Crossed, PassageDecoder


def walk(decoder: PassageDecoder, steps: list[tuple[int, Beam, bool]]) -> list[Crossed]:
    found = [decoder.beam(t, beam, blocked) for t, beam, blocked in steps]
    return [c for c in found if c is not None]


def test_outer_then_inner_is_in_and_the_reverse_is_out() -> None:
    decoder = PassageDecoder()
    going_in = [(0, "outer", True), (200, "inner", True), (400, "outer", False), (600, "inner", False)]
    assert walk(decoder, going_in) == [Crossed("in", 600)]
    going_out = [(1000, "inner", True), (1200, "outer", True), (1400, "inner", False), (1600, "outer", False)]
    assert walk(decoder, going_out) == [Crossed("out", 1600)]


def test_stepping_in_and_backing_out_is_no_passage() -> None:
    decoder = PassageDecoder()
    backed = [(0, "outer", True), (200, "inner", True), (300, "inner", False), (500, "outer", False)]
    assert walk(decoder, backed) == []
    assert walk(decoder, [(0, "outer", True), (300, "outer", False)]) == []


def test_occupied_while_any_beam_is_blocked() -> None:
    decoder = PassageDecoder()
    assert not decoder.occupied
    decoder.beam(0, "outer", True)
    assert decoder.occupied
    decoder.beam(10, "outer", False)
    assert not decoder.occupied


def test_repeated_or_unmatched_edges_change_nothing() -> None:
    decoder = PassageDecoder()
    steps = [(0, "inner", False), (1, "outer", True), (2, "outer", True), (3, "inner", True)]
    steps += [(4, "outer", False), (5, "outer", False), (6, "inner", False)]
    assert walk(decoder, steps) == [Crossed("in", 6)]

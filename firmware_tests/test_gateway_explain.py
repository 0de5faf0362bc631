"""gateway/explain.py: every receipt line with the cart changes behind it, each with its weight
event and camera interaction, and every review flag with its evidence."""

from edge.protocol.messages import AnyMessage, Interaction, Weight
from gateway.explain import explain
from gateway.fusion.model import CartChange, EventRef, Flag, FusedReceipt

T = 1_795_000_000_000
EVENTS: dict[EventRef, AnyMessage] = {
    ("shelf-02", 1, 7): Weight(
        v=1, dev="shelf-02", boot=1, seq=7, ts=T, shelf="shelf-02", lane=0, t0=T - 900, t1=T - 400,
        delta_mg=-710_300, before_mg=9_000_000, after_mg=8_289_700, noise_mg=1_000,
    ),
    ("camera-02", 1, 40): Interaction(
        v=1, dev="camera-02", boot=1, seq=40, ts=T, shelf="shelf-02", lanes=[0], t0=T - 1_000, t1=T - 300,
        x_mm=2_250, y_mm=3_300, conf_pm=900, holding="item",
    ),
}  # fmt: skip


def receipt(changes: list[CartChange], flags: list[Flag], lines: list[tuple[str, int]]) -> FusedReceipt:
    return FusedReceipt("s-r1", "acct-1", T - 60_000, T + 30_000, lines, bool(flags), 800, T + 32_000, flags, changes)


def test_each_line_shows_its_picks_and_put_backs_with_their_events() -> None:
    changes = [
        CartChange("cola-can", 2, T, "shelf-02", 0, ("shelf-02", 1, 7), ("camera-02", 1, 40), 950, 1000),
        CartChange("cola-can", -1, T + 9_000, "shelf-02", 0, ("shelf-02", 1, 9), None, 1000, 800),
        CartChange("apple", 1, T + 12_000, "shelf-05", 3, ("shelf-05", 1, 2), None, 1000, 1000),
        CartChange("apple", -1, T + 14_000, "shelf-05", 3, ("shelf-05", 1, 3), None, 1000, 1000),
    ]
    flags = [Flag("uncertain", T + 9_000, (("shelf-02", 1, 9), ("camera-02", 1, 40)), "put-back read as cola-can")]
    text = "\n".join(explain(receipt(changes, flags, [("cola-can", 1)]), EVENTS.get, final=True))
    assert "FOR REVIEW" in text and "final " in text
    cola = text.index("  1x cola-can")
    assert text.index("took 2 at", cola) < text.index("put back 1 at", cola)
    assert "weight shelf-02 1/7 -710.3 g on lane 0" in text
    assert "reach  camera-02 1/40 hand in lanes [0]" in text and "(2250, 3300) mm, left holding item" in text
    assert "(who 0.95, what 1.00)" in text
    assert "weight shelf-02 1/9 (not in the journal)" in text and "no camera interaction matched" in text
    assert "  0x apple" in text  # taken and put back: nothing owed, still explained
    assert "review: uncertain" in text and "put-back read as cola-can" in text


def test_a_session_that_took_nothing_and_one_still_open() -> None:
    text = explain(receipt([], [], []), EVENTS.get, final=False)
    assert "not final yet" in text[1] and text[-1] == "  nothing taken"

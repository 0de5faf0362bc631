"""The fusion engine on hand-made message streams: receipts final after the settle window,
companions on one account, and replay determinism. The store's hard cases are in
test_fusion_scenarios."""

from edge.protocol.messages import Interaction
from firmware_tests.fusion_stream import LAYOUT, T0, Stream, shopper
from gateway.fusion.engine import MAX_INSIDE, MAX_UNGRANTED_INSIDE, FusionEngine


def test_a_pick_lands_on_the_receipt_final_after_the_settle_window() -> None:
    stream = Stream()
    spot = (1050, 3300)  # shelf-01 lane 1: water 1.5 l
    path = shopper(1_000, [(1050, 2700, 3_000), (*spot, 8_000)], 14_000)
    stream.presence([path], 20_000)
    stream.qr(0, "q1", "acct-ann")
    stream.passage(1_000, "in", "q1")
    stream.reach(5_000, 6_500, "shelf-01", [1], spot, "item")
    stream.weight(5_150, 6_650, "shelf-01", 1, -1_546_000)
    stream.passage(14_000, "out")
    receipts, final_at = stream.run()
    (receipt,) = receipts
    assert (receipt.session, receipt.account, receipt.lines) == ("s-q1", "acct-ann", [("water-1500", 1)])
    assert not receipt.review and receipt.confidence_pm > 900
    # device times in gateway time: the 8 ms transit is read as the devices' clock offset
    assert (receipt.opened_ms, receipt.closed_ms) == (T0 + 1_008, T0 + 14_008)
    assert 2_000 <= final_at["s-q1"] - 14_000 <= 3_500
    change = receipt.changes[0]
    reach = next(m for _, m in stream.messages if isinstance(m, Interaction))
    assert (change.weight, change.reach) == (("shelf-01", 1, 1), ("camera-01", 1, reach.seq))


def test_companions_share_one_session_that_closes_when_both_are_out() -> None:
    stream = Stream()
    ann = shopper(1_000, [(750, 3300, 8_000)], 14_000)  # shelf-01 lane 0: water 0.5 l
    kid = shopper(4_000, [(3600, 1400, 9_000)], 20_000)  # shelf-05 lane 2: cereal bar
    stream.presence([ann, kid], 27_000)
    stream.qr(0, "q1", "acct-fam")
    stream.passage(1_000, "in", "q1")
    stream.palm_match(3_500, "p2", "acct-fam")
    stream.passage(4_000, "in", "p2")
    stream.reach(6_000, 7_000, "shelf-01", [0], (750, 3300), "item")
    stream.weight(6_100, 7_100, "shelf-01", 0, -520_500)
    stream.reach(7_000, 8_000, "shelf-05", [2], (3600, 1400), "item")
    stream.weight(7_100, 8_100, "shelf-05", 2, -2 * 27_000)
    stream.passage(14_000, "out")
    stream.passage(20_000, "out")
    receipts, final_at = stream.run()
    (receipt,) = receipts
    assert receipt.session == "s-q1" and receipt.closed_ms == T0 + 20_008
    assert receipt.lines == [("cereal-bar", 2), ("water-500", 1)]
    assert final_at["s-q1"] > 20_000


def test_replaying_the_same_messages_gives_the_same_receipts() -> None:
    stream = Stream()
    path = shopper(1_000, [(2850, 3300, 7_000)], 12_000)
    stream.presence([path], 18_000)
    stream.qr(0, "q1", "acct-ann")
    stream.passage(1_000, "in", "q1")
    stream.reach(4_000, 5_000, "shelf-02", [1], (2850, 3300), "item")
    stream.weight(4_100, 5_100, "shelf-02", 1, -710_300)
    stream.passage(12_000, "out")
    first, _ = stream.run()
    second, _ = stream.run()
    assert first == second and first[0].lines == [("cola-zero-can", 2)]


def test_a_gate_cannot_make_the_engine_hold_more_than_max_inside_people() -> None:
    """Each person inside holds a bound track every frame is matched against: a gate's flood
    of passages in (issue 20) is left out past MAX_INSIDE on grants given and past
    MAX_UNGRANTED_INSIDE on others, counted, and a frame stays cheap."""
    stream = Stream()
    for n in range(MAX_INSIDE + 44):
        stream.palm_match(500 + n, f"p-{n}", f"acct-{n}")
        stream.passage(1_000 + n, "in", f"p-{n}")
        stream.passage(1_000 + n, "in", f"forged-{n}")
    engine = FusionEngine(LAYOUT)
    for recv, message in stream.messages:
        engine.apply(message, T0 + recv)
    engine.advance(T0 + 10_000)
    assert len(engine.sessions) == MAX_INSIDE + MAX_UNGRANTED_INSIDE
    assert sum(session.account is not None for session in engine.sessions.values()) == MAX_INSIDE
    assert engine.stats.passages_dropped == 44 + MAX_INSIDE + 44 - MAX_UNGRANTED_INSIDE
    assert sum(track.bound for track in engine.tracker.tracks.values()) == MAX_INSIDE + MAX_UNGRANTED_INSIDE


def test_passages_on_grants_never_given_cannot_keep_a_granted_shopper_out() -> None:
    """Issue 20 review: 300 passages in naming made-up grants filled MAX_INSIDE for good (a
    place was freed only by a passage out), so an hour later a shopper let in on a real grant
    opened no session, and the journal's replay rebuilt the same. Now such people have their
    own few places, and one the cameras never see is gone after UNGRANTED_UNSEEN_MS."""
    stream = Stream()
    for n in range(300):
        stream.passage(1_000 + n, "in", f"forged-{n}")
    hour = 3_600_000
    stream.qr(hour, "q-ann", "acct-ann")
    stream.passage(hour + 1_000, "in", "q-ann")
    stream.passage(hour + 2_000, "in", "lost-qr")  # a grant whose qr never arrived
    stream.passage(hour + 3_000, "in", "forged-late")

    def replayed() -> FusionEngine:
        engine = FusionEngine(LAYOUT)
        for recv, message in stream.messages:
            engine.apply(message, T0 + recv)
        engine.advance(T0 + hour + 10_000)
        return engine

    engine = replayed()
    assert engine.people_of("s-q-ann") == (1, 1)
    assert engine.sessions["s-q-ann"].account == "acct-ann"
    assert engine.people_of("s-lost-qr") == (1, 1) and engine.people_of("s-forged-late") == (1, 1)
    assert engine.stats.passages_dropped == 300 - MAX_UNGRANTED_INSIDE
    assert not any(session.startswith("s-forged-") and session != "s-forged-late" for session in engine.sessions)
    assert engine.stats.receipts == MAX_UNGRANTED_INSIDE and engine.stats.reviewed == MAX_UNGRANTED_INSIDE
    assert sum(track.bound for track in engine.tracker.tracks.values()) == 3
    again = replayed()
    assert (again.stats, list(again.sessions)) == (engine.stats, list(engine.sessions))

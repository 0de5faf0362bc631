"""The store's hard cases, each a hand-made stream through the fusion engine: two shoppers at
one shelf and crossing paths, a wrong-lane put-back later picked by someone else, same-weight
products side by side, several items in one grab, a hand resting on a shelf, an item handed
to a companion on the same account, a shopper leaving with nothing, camera frame drops, and
a shelf node offline for 30 s."""

from firmware_tests.fusion_stream import T0, Stream, shopper
from gateway.fusion.engine import FusionEngine
from gateway.layout import SMALL_STORE, load_layout

LAYOUT = load_layout(SMALL_STORE)


def test_two_shoppers_at_one_shelf_each_get_their_own_item() -> None:
    stream = Stream()
    ann = shopper(1_000, [(2550, 3300, 9_000)], 15_000)  # shelf-02 lane 0, cola
    bob = shopper(3_500, [(3150, 3300, 10_000)], 17_500)  # shelf-02 lane 2, energy drink
    stream.presence([ann, bob], 24_000)
    stream.qr(0, "qa", "acct-ann")
    stream.passage(1_000, "in", "qa")
    stream.palm_match(3_000, "pb", "acct-bob")
    stream.passage(3_500, "in", "pb")
    stream.reach(7_000, 8_200, "shelf-02", [0], (2550, 3300), "item")
    stream.weight(7_100, 8_300, "shelf-02", 0, -356_000)
    stream.reach(7_400, 8_600, "shelf-02", [2], (3150, 3300), "item")
    stream.weight(7_500, 8_700, "shelf-02", 2, -274_000)
    stream.passage(15_000, "out")
    stream.passage(17_500, "out")
    receipts, _ = stream.run()
    assert {r.account: r.lines for r in receipts} == {"acct-ann": [("cola-can", 1)], "acct-bob": [("energy-can", 1)]}


def test_a_resting_hand_is_no_purchase_and_a_lean_then_pick_is_one() -> None:
    stream = Stream()
    path = shopper(1_000, [(1950, 1400, 16_000)], 21_000)  # shelf-04 lane 1: paprika crisps
    stream.presence([path], 28_000)
    stream.qr(0, "q1", "acct-ann")
    stream.passage(1_000, "in", "q1")
    stream.reach(4_000, 8_000, "shelf-04", [1], (1950, 1400), "none")
    stream.weight(4_100, 4_500, "shelf-04", 1, 812_000)  # leaning on it
    stream.weight(7_600, 8_100, "shelf-04", 1, -811_000)  # and off again
    stream.reach(10_000, 14_000, "shelf-04", [1], (1950, 1400), "item")
    stream.weight(10_100, 10_500, "shelf-04", 1, 655_000)
    stream.weight(13_600, 14_100, "shelf-04", 1, -655_000 - 162_400)  # off, with a bag
    stream.passage(21_000, "out")
    (receipt,), _ = stream.run()
    assert receipt.lines == [("chips-paprika", 1)]
    assert not receipt.review


def test_a_wrong_lane_put_back_is_remembered_and_goes_to_whoever_takes_it() -> None:
    stream = Stream()
    ann = shopper(1_000, [(1050, 3300, 6_000), (1950, 1400, 12_000)], 17_000)
    bob = shopper(18_000, [(1950, 1400, 24_000)], 30_000)
    stream.presence([ann, bob], 36_000)
    stream.qr(0, "qa", "acct-ann")
    stream.passage(1_000, "in", "qa")
    stream.reach(4_000, 5_000, "shelf-01", [1], (1050, 3300), "item")
    stream.weight(4_100, 5_100, "shelf-01", 1, -1_544_000)  # water 1.5 l
    stream.reach(10_000, 11_000, "shelf-04", [1], (1950, 1400), "none")
    stream.weight(10_100, 11_100, "shelf-04", 1, 1_544_500)  # ...put down among the crisps
    stream.passage(17_000, "out")
    stream.qr(17_000, "qb", "acct-bob")
    stream.passage(18_000, "in", "qb")
    stream.reach(21_000, 22_000, "shelf-04", [1], (1950, 1400), "item")
    stream.weight(21_100, 22_100, "shelf-04", 1, -1_544_500)
    stream.passage(30_000, "out")
    engine = FusionEngine(LAYOUT)
    receipts, _ = stream.run(engine)
    assert {r.account: r.lines for r in receipts} == {"acct-ann": [], "acct-bob": [("water-1500", 1)]}
    assert engine.lanes[("shelf-04", 1)].misplaced == []


def test_a_shelf_node_offline_for_30_s_delays_the_receipt_but_changes_nothing() -> None:
    stream = Stream()
    path = shopper(1_000, [(3450, 1400, 8_000)], 14_000)  # shelf-05 lane 3: apple
    stream.presence([path], 60_000)
    stream.qr(0, "q1", "acct-ann")
    stream.passage(1_000, "in", "q1")
    stream.reach(5_000, 6_500, "shelf-05", [3], (3450, 1400), "item")
    stream.weight(5_100, 6_600, "shelf-05", 3, -181_000, delay=35_000)  # the node was cut off
    stream.passage(14_000, "out")
    (receipt,), final_at = stream.run()
    assert receipt.lines == [("apple", 1)]
    assert final_at["s-q1"] >= 6_600 + 35_000


def test_two_shoppers_crossing_in_an_aisle_keep_their_own_carts() -> None:
    stream = Stream()
    # bob goes round the island's far end and comes left along the middle aisle while ann
    # goes right along it, 500 mm from him: they pass each other head-on at x = 3150
    bob = [
        (0, 700, -200),
        (600, 700, 150),
        (1_500, 1_000, 1_000),
        (5_000, 4_500, 1_000),
        (6_500, 4_500, 2_450),
        (10_500, 1_350, 2_450),
        (11_500, 1_350, 3_300),
        (13_500, 1_350, 3_300),
        (16_000, 950, 650),
        (17_000, 700, 150),
        (17_500, 700, -300),
    ]
    ann = [(1_400, 700, -200), (2_000, 700, 150), (4_500, 700, 2_950), (9_500, 4_000, 2_950), (10_000, 4_350, 3_300),
           (12_000, 4_350, 3_300), (14_000, 4_350, 2_450), (17_500, 950, 650), (19_000, 700, 150),
           (19_500, 700, -300)]  # fmt: skip
    stream.presence([ann, bob], 26_000)
    stream.qr(0, "qb", "acct-bob")
    stream.passage(600, "in", "qb")
    stream.qr(1_400, "qa", "acct-ann")
    stream.passage(2_000, "in", "qa")
    stream.reach(10_400, 11_600, "shelf-03", [0], (4_350, 3_300), "item")
    stream.weight(10_500, 11_700, "shelf-03", 0, -210_400)  # ham sandwich
    stream.reach(11_900, 13_000, "shelf-01", [2], (1_350, 3_300), "item")
    stream.weight(12_000, 13_100, "shelf-01", 2, -1_080_600)  # orange juice
    stream.passage(17_000, "out")
    stream.passage(19_000, "out")
    receipts, _ = stream.run()
    assert {r.account: r.lines for r in receipts} == {
        "acct-ann": [("sandwich-ham", 1)],
        "acct-bob": [("juice-orange", 1)],
    }


def test_same_weight_products_side_by_side_are_told_apart_by_their_lane() -> None:
    stream = Stream()
    path = shopper(1_000, [(2_550, 3_300, 6_000), (2_850, 3_300, 11_000)], 17_000)
    stream.presence([path], 24_000)
    stream.qr(0, "q1", "acct-ann")
    stream.passage(1_000, "in", "q1")
    stream.reach(3_500, 4_500, "shelf-02", [0], (2_550, 3_300), "item")
    stream.weight(3_600, 4_600, "shelf-02", 0, -355_300)  # cola
    stream.reach(7_500, 8_500, "shelf-02", [1], (2_850, 3_300), "item")
    stream.weight(7_600, 8_600, "shelf-02", 1, -2 * 355_000)  # two cola zero
    stream.reach(9_000, 10_000, "shelf-02", [1], (2_850, 3_300), "none")
    stream.weight(9_100, 10_100, "shelf-02", 1, 354_800)  # one back where it came from
    stream.passage(17_000, "out")
    (receipt,), _ = stream.run()
    assert receipt.lines == [("cola-can", 1), ("cola-zero-can", 1)]
    assert not receipt.review


def test_several_items_in_one_grab_and_one_hand_across_two_lanes() -> None:
    stream = Stream()
    path = shopper(1_000, [(5_250, 3_300, 6_000), (1_800, 1_400, 12_000)], 18_000)
    stream.presence([path], 25_000)
    stream.qr(0, "q1", "acct-ann")
    stream.passage(1_000, "in", "q1")
    stream.reach(3_500, 4_800, "shelf-03", [3], (5_250, 3_300), "item")
    stream.weight(3_600, 4_900, "shelf-03", 3, -3 * 165_000 - 400)  # three yoghurts at once
    stream.reach(9_000, 10_500, "shelf-04", [0, 1], (1_800, 1_400), "item")
    stream.weight(9_100, 10_600, "shelf-04", 0, -160_300)  # salted crisps
    stream.weight(9_150, 10_550, "shelf-04", 1, -161_800)  # and paprika, with the same hand
    stream.passage(18_000, "out")
    (receipt,), _ = stream.run()
    assert receipt.lines == [("chips-paprika", 1), ("chips-salted", 1), ("yoghurt", 3)]


def test_an_item_handed_to_a_companion_is_still_on_the_one_receipt_and_can_go_back() -> None:
    stream = Stream()
    ann = shopper(1_000, [(3_150, 1_400, 8_000)], 12_000)  # takes two chocolate bars
    kid = shopper(3_500, [(3_300, 1_000, 9_000), (3_150, 1_400, 13_000)], 20_000)  # gets one, puts it back
    stream.presence([ann, kid], 27_000)
    stream.qr(0, "q1", "acct-fam")
    stream.passage(1_000, "in", "q1")
    stream.qr(3_000, "q2", "acct-fam")
    stream.passage(3_500, "in", "q2")
    stream.reach(5_500, 6_500, "shelf-05", [0], (3_150, 1_400), "item")
    stream.weight(5_600, 6_600, "shelf-05", 0, -2 * 104_000)
    stream.reach(11_000, 12_000, "shelf-05", [0], (3_150, 1_400), "none")
    stream.weight(11_100, 12_100, "shelf-05", 0, 104_200)  # the kid puts the handed bar back
    stream.passage(12_000, "out")
    stream.passage(20_000, "out")
    (receipt,), _ = stream.run()
    assert receipt.session == "s-q1" and receipt.lines == [("chocolate-bar", 1)]
    assert not receipt.review


def test_a_shopper_leaving_with_nothing_gets_an_empty_receipt() -> None:
    stream = Stream()
    path = shopper(1_000, [(3_450, 3_300, 7_000)], 13_000)
    stream.presence([path], 20_000)
    stream.qr(0, "q1", "acct-ann")
    stream.passage(1_000, "in", "q1")
    stream.reach(4_000, 5_500, "shelf-02", [3], (3_450, 3_300), "none")  # looked, took nothing
    stream.passage(13_000, "out")
    (receipt,), _ = stream.run()
    assert receipt.lines == [] and not receipt.review
    assert receipt.closed_ms == T0 + 13_000 + 8  # the passage time, corrected by the gate's clock offset


def test_camera_frame_drops_while_two_shoppers_move_do_not_swap_their_carts() -> None:
    stream = Stream()
    ann = shopper(1_000, [(2_550, 3_300, 12_000)], 18_000)  # cola
    bob = shopper(3_500, [(3_450, 3_300, 13_000)], 20_500)  # iced tea
    # camera-02 sends nothing for 2.4 s while both walk into its view and up to the shelf
    stream.presence([ann, bob], 27_000, drops=(("camera-02", 4_000, 6_400),))
    stream.qr(0, "qa", "acct-ann")
    stream.passage(1_000, "in", "qa")
    stream.qr(3_000, "qb", "acct-bob")
    stream.passage(3_500, "in", "qb")
    stream.reach(8_000, 9_000, "shelf-02", [0], (2_550, 3_300), "item")
    stream.weight(8_100, 9_100, "shelf-02", 0, -355_200)
    stream.reach(8_600, 9_600, "shelf-02", [3], (3_450, 3_300), "item")
    stream.weight(8_700, 9_700, "shelf-02", 3, -540_100)
    stream.passage(18_000, "out")
    stream.passage(20_500, "out")
    receipts, _ = stream.run()
    assert {r.account: r.lines for r in receipts} == {"acct-ann": [("cola-can", 1)], "acct-bob": [("iced-tea", 1)]}

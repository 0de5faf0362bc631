"""The fusion engine on hand-made message streams: sessions from granted passages, picks
and put-backs into the right cart, a resting hand, companions on one account, receipts
final after the settle window (and held while a shelf has not reported), and replay
determinism."""

from dataclasses import dataclass, field

from nacl.signing import SigningKey

from edge.protocol.messages import AnyMessage, Decision, Interaction, Passage, Presence, Qr, Weight
from edge.protocol.qr_token import QrClaims, issue
from gateway.fusion.engine import FusionEngine
from gateway.fusion.model import FusedReceipt, ReceiptFinal
from gateway.layout import SMALL_STORE, load_layout

LAYOUT = load_layout(SMALL_STORE)
T0 = 1_795_000_000_000
GATE = (700, 150)
KEY = SigningKey.generate()
Path = list[tuple[int, float, float]]  # (t offset ms, x, y)


def at(path: Path, t: int) -> tuple[float, float] | None:
    if t < path[0][0] or t > path[-1][0]:
        return None
    for (ta, xa, ya), (tb, xb, yb) in zip(path, path[1:], strict=False):
        if ta <= t <= tb:
            share = (t - ta) / (tb - ta) if tb > ta else 0
            return xa + (xb - xa) * share, ya + (yb - ya) * share
    return path[-1][1], path[-1][2]


@dataclass
class Stream:
    """Messages as devices would send them, each camera seeing everyone in its view at 5 Hz."""

    messages: list[tuple[int, AnyMessage]] = field(default_factory=list)  # (recv offset, message)
    seqs: dict[str, int] = field(default_factory=dict)

    def add(self, sent: int, cls: type, dev: str, **body: object) -> None:
        seq = self.seqs[dev] = self.seqs.get(dev, 0) + 1
        self.messages.append((sent + 8, cls(v=1, dev=dev, boot=1, seq=seq, ts=T0 + sent, **body)))

    def presence(self, paths: list[Path], until: int) -> None:
        for camera in LAYOUT.cameras:
            x0, y0, x1, y1 = camera.view
            for t in range(0, until, 200):
                seen = [where for p in paths if (where := at(p, t)) and x0 <= where[0] <= x1 and y0 <= where[1] <= y1]
                self.add(t, Presence, camera.node, people=[(round(x), round(y), 900) for x, y in seen])

    def qr(self, t: int, req: str, account: str) -> None:
        claims = QrClaims(account, "entry", T0, T0 + 3_600_000, req.encode().ljust(16, b"."))
        self.add(t, Qr, "gate-01", req=req, token=issue(claims, KEY))

    def palm_match(self, t: int, req: str, account: str) -> None:
        self.add(t, Decision, "upstream", req=req, result="match", account=account, score_pm=100)

    def passage(self, t: int, direction: str, grant: str | None = None) -> None:
        self.add(t + 20, Passage, "gate-01", gate="gate-01", dir=direction, t=T0 + t, grant=grant, x_mm=700, y_mm=150)

    def reach(self, t0: int, t1: int, shelf: str, lanes: list[int], where: tuple[float, float], holding: str) -> None:
        camera = next(c.node for c in LAYOUT.cameras if shelf in c.shelves)
        self.add(t1 + 320, Interaction, camera, shelf=shelf, lanes=lanes, t0=T0 + t0, t1=T0 + t1,
                 x_mm=round(where[0]), y_mm=round(where[1]), conf_pm=900, holding=holding)  # fmt: skip

    def weight(self, t0: int, t1: int, shelf: str, lane: int, delta_mg: int, delay: int = 500) -> None:
        self.add(t1 + delay, Weight, shelf, shelf=shelf, lane=lane, t0=T0 + t0, t1=T0 + t1, delta_mg=delta_mg,
                 before_mg=20_000_000, after_mg=20_000_000 + delta_mg, noise_mg=1_000)  # fmt: skip

    def run(self, engine: FusionEngine | None = None) -> tuple[list[FusedReceipt], dict[str, int]]:
        """Feed the stream in receive order; the receipts and when (offset) each became final."""
        engine = engine or FusionEngine(LAYOUT)
        receipts, final_at = [], {}
        for recv, message in sorted(self.messages, key=lambda item: item[0]):
            for output in engine.apply(message, T0 + recv):
                if isinstance(output, ReceiptFinal):
                    receipts.append(output.receipt)
                    final_at[output.receipt.session] = recv
        return receipts, final_at


def shopper(enter: int, stops: list[tuple[float, float, int]], leave: int) -> Path:
    """In at the gate at `enter`, standing at each (x, y) until its time, out at `leave`."""
    path: Path = [(enter - 600, 700, -200), (enter, *GATE)]
    for x, y, until in stops:
        path += [(path[-1][0] + 1_500, x, y), (until, x, y)]
    path += [(leave - 1_500, 950, 650), (leave, *GATE), (leave + 500, 700, -300)]
    return path


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


def test_a_receipt_waits_for_a_shelf_that_reports_late() -> None:
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

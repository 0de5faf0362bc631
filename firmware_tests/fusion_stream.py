"""Message streams as the devices would send them, hand-made for the fusion engine's tests
and scenarios: each camera sees everyone in its view at 5 Hz, and the gate, the cameras'
interactions and the shelves' weight events come where a scenario puts them."""

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

    def presence(self, paths: list[Path], until: int, drops: tuple[tuple[str, int, int], ...] = ()) -> None:
        """`drops`: (camera, from, to) during which that camera sends no frames."""
        for camera in LAYOUT.cameras:
            x0, y0, x1, y1 = camera.view
            for t in range(0, until, 200):
                if any(node == camera.node and a <= t < b for node, a, b in drops):
                    continue
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

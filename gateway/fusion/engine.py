"""The fusion engine of DESIGN section 6: accepted messages in receive order in, sessions,
cart changes, review flags and final receipts out. Pure and deterministic: time comes only
from the messages (device clocks corrected by a per-device offset estimate, and receive
times), never from the wall clock, so a replay of the journal rebuilds exactly the state
the live gateway had.

Messages wait in a short reorder window and are then handled in the order of their
(corrected) creation times. A weight change waits a little longer, for the camera's
interaction that explains it, and is then matched to the reaches on its shelf and lane
around its time, attributed to the person whose track stood there, and explained as
products from the lane's planogram (a pick) or the shopper's own cart (a put-back). A
session closes when everyone who came in on it has passed `out`; its receipt is final
once the settle window after that has passed and nothing it waits for is still missing.
"""

import heapq
import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from edge.protocol.messages import AnyMessage, Decision, Interaction, Passage, Presence, Qr, State, Weight
from edge.protocol.qr_token import QrRefused, read_claims
from gateway.clock import ClockOffset
from gateway.fusion.model import (
    CartChange,
    CartChanged,
    EventRef,
    Flag,
    Flagged,
    FusedReceipt,
    FusionOutput,
    ReceiptFinal,
    SessionClosed,
    SessionOpened,
)
from gateway.fusion.products import Hypothesis, Item, fits, noise_var, pick_hypotheses, putback_hypotheses
from gateway.fusion.tracker import Track, Tracker, TrackerConfig
from gateway.layout import Product, StoreLayout

NEVER: Final = 2**62
STALE_MM_PER_MS: Final = 0.8
WALK_MM_PER_MS: Final = 1.1  # a shopper's usual pace
EXIT_REACH_MM: Final = 700.0  # from the gate, where the cameras place someone passing it
# Each person inside holds a bound track that every camera frame is matched against, and a
# gate's `passage in`s are taken on its word: a gate sending thousands (its credential
# stolen, its firmware broken) must not make every frame cost thousands of times a store's
# (DESIGN section 5). No store holds this many shoppers at once.
MAX_INSIDE: Final = 256
# A passage naming a grant the engine never saw given (no `qr` or palm `decision` for it:
# one that was lost, or a gate's made-up passages) still opens a session, for review. Such
# people have their own few places, so made-up passages never take a granted shopper's, and
# one the cameras have not seen for UNGRANTED_UNSEEN_MS (message time, from the passage or
# the last sighting) is taken to have left unseen: their place is freed and their session
# closes for review. Places were otherwise freed only by a passage out, which a gate making
# passages up never sends.
MAX_UNGRANTED_INSIDE: Final = 16
UNGRANTED_UNSEEN_MS: Final = 600_000


@dataclass(frozen=True, slots=True)
class FusionConfig:
    reorder_ms: int = 500  # how long a message waits for older ones from slower devices
    weight_wait_ms: int = 1_200  # after a weight event, how long its interaction may still come
    match_slack_ms: int = 500  # a reach and a weight change this far apart in time still match
    settle_ms: int = 2_000  # after the last person left, before the receipt is final
    hold_ms: int = 60_000  # longest a receipt waits for a shelf to report a reach the camera saw
    resting_ms: int = 30_000  # an unexplained added weight waits this long for the hand to lift
    reach_sigma_mm: float = 350.0  # spread of the camera's position of the reaching person
    lane_sigma_mm: float = 500.0  # spread of where someone reaching into a lane stands
    bind_mm: float = 1_500.0  # farthest a track at the gate may be from it to be the one passing
    # a line whose taker or whose products are less certain than these sends the receipt to
    # review (the crowd bench: picks attributed at 0.8 to 0.9 were right as often as surer ones)
    sure_taker: float = 0.75
    sure_product: float = 0.9
    release_mg: int = 8_000  # an unexplained weight lifted again to within this is a hand leaving
    tracker: TrackerConfig = field(default_factory=TrackerConfig)


@dataclass(slots=True)
class _Reach:
    ref: EventRef
    shelf: str
    lanes: frozenset[int]
    t0: int
    t1: int
    x: int
    y: int
    holding: str
    session: str | None  # who it was attributed to when seen (for holds)


@dataclass(slots=True)
class _Pending:
    due_ms: int
    key_ms: int
    ref: EventRef
    weight: Weight
    t0: int
    t1: int


@dataclass(slots=True)
class _Resting:
    mg: int
    until_ms: int
    ref: EventRef
    session: str | None


@dataclass(slots=True)
class _Lane:
    misplaced: list[Item] = field(default_factory=list)  # put back here by mistake, the top last
    resting: list[_Resting] = field(default_factory=list)


@dataclass(slots=True)
class _Person:
    track: Track  # kept after the shopper left: late events are placed by where they were
    session: str
    entered_ms: int
    exited_ms: int | None = None


@dataclass
class _Session:
    id: str
    account: str | None
    opened_ms: int
    people: list[_Person] = field(default_factory=list)
    closed_ms: int | None = None
    held: dict[str, list[Item]] = field(default_factory=dict)  # the cart: its items, by their own weights
    changes: list[CartChange] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    holds: dict[EventRef, int] = field(default_factory=dict)  # unmatched reach: until when it holds

    @property
    def present(self) -> list[_Person]:
        return [p for p in self.people if p.exited_ms is None]


@dataclass
class FusionStats:
    messages: int = 0
    late: int = 0  # arrived after the reorder window had passed their time
    sessions: int = 0
    companions: int = 0
    receipts: int = 0
    reviewed: int = 0
    weights: int = 0
    weights_unattributed: int = 0  # nobody inside was near
    weights_unexplained: int = 0
    reaches: int = 0
    unknown_grants: int = 0
    unmatched_exits: int = 0
    detections_dropped: int = 0  # presence detections left out at the tracker's bounds
    passages_dropped: int = 0  # passages in left out at MAX_INSIDE or MAX_UNGRANTED_INSIDE
    unseen_left: int = 0  # people on grants never given, gone after UNGRANTED_UNSEEN_MS unseen


class FusionEngine:
    def __init__(self, layout: StoreLayout, config: FusionConfig | None = None) -> None:
        self.layout = layout
        self.config = config or FusionConfig()
        self.tracker = Tracker(self.config.tracker, layout.outside)
        self.stats = FusionStats()
        self.sessions: dict[str, _Session] = {}
        self.lanes: dict[tuple[str, int], _Lane] = {key: _Lane() for key in layout.lane_spots}
        self._clocks: dict[str, ClockOffset] = {}
        self._queue: list[tuple[int, int, AnyMessage, int]] = []  # (key, order, message, offset)
        self._order = itertools.count()
        self._now_ms = 0
        self._last_recv_ms = 0  # the newest real receive time (finish() moves _now_ms past it)
        self._released_ms = 0
        self._accounts: dict[str, str] = {}  # grant req: account
        self._open_by_account: dict[str, str] = {}
        self._people: dict[int, _Person] = {}  # track id: person inside
        self._ungranted: dict[int, _Person] = {}  # those of _people who came in on a grant never given
        self._left: list[_Person] = []  # people gone whose receipts are not final yet
        self._reaches: dict[str, list[_Reach]] = {}  # shelf: recent reaches
        self._pending: list[_Pending] = []

    # -- feeding --------------------------------------------------------------------------

    def apply(self, message: AnyMessage, recv_ms: int) -> list[FusionOutput]:
        """One accepted message, with the time the gateway received it."""
        self.stats.messages += 1
        outputs = self.advance(recv_ms)
        self._last_recv_ms = max(self._last_recv_ms, recv_ms)
        if isinstance(message, State):
            return outputs  # a state's ts is when it was signed, often long before: no clock sample
        clock = self._clocks.get(message.dev)
        if clock is None:
            clock = self._clocks[message.dev] = ClockOffset(window=64)
        clock.add(message.ts, recv_ms)
        offset = clock.offset_ms or 0
        key = message.ts + offset
        if key <= self._released_ms:
            self.stats.late += 1
            self._handle(message, offset, key, outputs)
        else:
            heapq.heappush(self._queue, (key, next(self._order), message, offset))
        return outputs

    def advance(self, now_ms: int) -> list[FusionOutput]:
        """Let time pass to now_ms (a receive time): handle what the reorder window releases,
        resolve weight changes, and finalise the receipts that are due."""
        outputs: list[FusionOutput] = []
        if now_ms > self._now_ms:
            self._now_ms = now_ms
        horizon = self._now_ms - self.config.reorder_ms if self._now_ms < NEVER else NEVER
        queue = self._queue
        while queue and queue[0][0] <= horizon:
            key, _, message, offset = heapq.heappop(queue)
            self._resolve_weights(key, outputs)
            self._expire_unseen(key, outputs)
            self._released_ms = key
            self._handle(message, offset, key, outputs)
        if horizon > self._released_ms:
            self._released_ms = horizon
        self._resolve_weights(self._released_ms, outputs)
        self._expire_unseen(self._released_ms, outputs)
        self._finalise(outputs)
        return outputs

    def finish(self) -> list[FusionOutput]:
        """The input has ended: handle everything still waiting and finalise every closed session."""
        return self.advance(NEVER)

    @property
    def watermark_ms(self) -> int:
        return self._released_ms

    def receipt_so_far(self, session_id: str) -> FusedReceipt | None:
        """An unfinished session's receipt as it stands now, with its evidence; not final."""
        session = self.sessions.get(session_id)
        if session is None:
            return None
        return self._receipt(session, session.closed_ms if session.closed_ms is not None else self._released_ms)

    def people_of(self, session_id: str) -> tuple[int, int]:
        """How many came in on an unfinished session, and how many of them are inside now."""
        session = self.sessions.get(session_id)
        if session is None:
            return 0, 0
        return len(session.people), len(session.present)

    def misplaced_on(self, shelf: str, lane: int) -> list[Item]:
        """Items put back on a lane that is not theirs, the top last."""
        spot = self.lanes.get((shelf, lane))
        return list(spot.misplaced) if spot is not None else []

    # -- handling, in time order ----------------------------------------------------------

    def _handle(self, message: AnyMessage, offset: int, key: int, outputs: list[FusionOutput]) -> None:
        match message:
            case Presence():
                self.stats.detections_dropped += self.tracker.frame(key, message.people)
            case Interaction():
                self._reach(message, offset)
            case Weight():
                self.stats.weights += 1
                ref = (message.dev, message.boot, message.seq)
                self._pending.append(
                    _Pending(
                        key + self.config.weight_wait_ms, key, ref, message, message.t0 + offset, message.t1 + offset
                    )
                )
            case Passage():
                self._passage(message, message.t + offset, outputs)
            case Qr():
                self._qr(message)
            case Decision(result="match", account=str(account)):
                self._accounts[message.req] = account

    def _qr(self, qr: Qr) -> None:
        """The account a QR grant was for. The token was verified when it was let through; the
        passage that names its req is the gate's word that the gateway granted it."""
        try:
            claims = read_claims(qr.token)
        except QrRefused:
            return
        if claims.purpose == "entry":
            self._accounts[qr.req] = claims.account

    def _passage(self, passage: Passage, t: int, outputs: list[FusionOutput]) -> None:
        gate = self.layout.gate_by_id.get(passage.gate)
        gx, gy = (gate.x_mm, gate.y_mm) if gate is not None else (passage.x_mm, passage.y_mm)
        if passage.dir == "in":
            if passage.grant is None:
                return
            account = self._accounts.get(passage.grant)
            if self._full(account is not None):
                self.stats.passages_dropped += 1
                return
            if account is None:
                self.stats.unknown_grants += 1
            session_id = self._open_by_account.get(account) if account is not None else None
            companion = session_id is not None
            if session_id is None:
                session_id = f"s-{passage.grant}"
                if session_id in self.sessions:
                    return  # the same grant twice: one grant, one person
                self.sessions[session_id] = _Session(session_id, account, t)
                self.stats.sessions += 1
                if account is not None:
                    self._open_by_account[account] = session_id
            else:
                self.stats.companions += 1
            session = self.sessions[session_id]
            track = self.tracker.bind_near(t, gx, gy, self.config.bind_mm)
            person = _Person(track, session_id, t)
            session.people.append(person)
            self._people[track.id] = person
            if account is None:
                self._ungranted[track.id] = person
            outputs.append(SessionOpened(session_id, account, t, companion))
            return
        leaving = self._nearest_person(t, gx, gy)
        if leaving is None:
            self.stats.unmatched_exits += 1
            return
        self._gone(leaving, t, outputs)

    def _full(self, granted: bool) -> bool:
        """Whether a passage in on a grant given (or never given) finds no place left."""
        ungranted = len(self._ungranted)
        if granted:
            return len(self._people) - ungranted >= MAX_INSIDE
        return ungranted >= MAX_UNGRANTED_INSIDE

    def _expire_unseen(self, until_ms: int, outputs: list[FusionOutput]) -> None:
        """People on grants never given whom no camera has seen for UNGRANTED_UNSEEN_MS by
        until_ms leave, at that moment and in its order, so a replay does the same."""
        if not self._ungranted:
            return  # as almost always: this runs for every message
        due = sorted(
            (person.track.t_ms + UNGRANTED_UNSEEN_MS, track_id, person)
            for track_id, person in self._ungranted.items()
            if person.track.t_ms + UNGRANTED_UNSEEN_MS <= until_ms
        )
        for gone_ms, _, person in due:
            self.stats.unseen_left += 1
            detail = f"came in on a grant never given and unseen for {UNGRANTED_UNSEEN_MS // 1000} s: taken as gone"
            self._flag(person.session, "unseen", gone_ms, (), detail, outputs)
            self._gone(person, gone_ms, outputs)

    def _gone(self, leaving: _Person, t: int, outputs: list[FusionOutput]) -> None:
        """`leaving` is out of the store at t; their session closes when nobody of it is left inside."""
        leaving.exited_ms = t
        del self._people[leaving.track.id]
        self._ungranted.pop(leaving.track.id, None)
        self.tracker.release(leaving.track.id)
        self._left.append(leaving)
        session = self.sessions[leaving.session]
        if not session.present:
            session.closed_ms = t
            if session.account is not None and self._open_by_account.get(session.account) == session.id:
                del self._open_by_account[session.account]
            outputs.append(SessionClosed(session.id, t))

    def _nearest_person(self, t: int, x: float, y: float) -> _Person | None:
        """Who is passing out at (x, y) at t: the person nearest the gate, where a track the
        cameras have lost counts as the nearest it could have come to the gate on the way its
        last motion was taking it (someone lost walking to the gate, not someone lost walking
        away), and as farther the longer it has been lost beyond the walk to the gate from
        where it was last seen (where cameras do not see the way out, everyone leaving is
        lost for that walk). Someone last seen too far away to have walked to the gate since
        is passed over while anyone else could have."""
        ranked: list[tuple[bool, float, int, _Person]] = []
        for person in self._people.values():
            if person.entered_ms > t:
                continue
            track = person.track
            lost_ms = max(0, t - track.t_ms)
            px, py = track.toward(t, x, y) if lost_ms else track.at(t)
            walk_ms = max(0.0, math.hypot(track.x - x, track.y - y) - EXIT_REACH_MM) / WALK_MM_PER_MS
            # a track the cameras have not seen for a while is only a guess of where its person is
            d = math.hypot(px - x, py - y) + STALE_MM_PER_MS * max(0.0, lost_ms - walk_ms - 1_000)
            ranked.append((lost_ms < 0.8 * walk_ms, d, track.id, person))
        return min(ranked, key=lambda entry: entry[:3])[3] if ranked else None

    def _reach(self, interaction: Interaction, offset: int) -> None:
        self.stats.reaches += 1
        ref = (interaction.dev, interaction.boot, interaction.seq)
        t0, t1 = interaction.t0 + offset, interaction.t1 + offset
        reach = _Reach(
            ref, interaction.shelf, frozenset(interaction.lanes), t0, t1,
            interaction.x_mm, interaction.y_mm, interaction.holding, None,
        )  # fmt: skip
        if interaction.holding == "item":
            scores = self._people_scores(interaction.shelf, interaction.lanes, (t0 + t1) // 2, [reach])
            if scores:
                session_id = max(scores.items(), key=lambda item: item[1])[0]
                reach.session = session_id
                self.sessions[session_id].holds[ref] = t1 + self.config.hold_ms
        reaches = self._reaches.setdefault(interaction.shelf, [])
        reaches.append(reach)
        if len(reaches) > 256:
            del reaches[:128]

    # -- weight changes -------------------------------------------------------------------

    def _resolve_weights(self, until_ms: int, outputs: list[FusionOutput]) -> None:
        due = [p for p in self._pending if p.due_ms <= until_ms]
        if not due:
            return
        self._pending = [p for p in self._pending if p.due_ms > until_ms]
        for pending in sorted(due, key=lambda p: p.key_ms):
            self._weight(pending, outputs)

    def _matching_reaches(self, pending: _Pending) -> list[_Reach]:
        slack = self.config.match_slack_ms
        weight = pending.weight
        found: list[tuple[int, _Reach]] = []
        for reach in self._reaches.get(weight.shelf, ()):
            if weight.lane not in reach.lanes:
                continue
            overlap = min(reach.t1, pending.t1) - max(reach.t0, pending.t0)
            if overlap >= -slack:
                found.append((overlap, reach))
        found.sort(key=lambda item: -item[0])
        return [reach for _, reach in found]

    def _people_scores(self, shelf: str, lanes: Iterable[int], t: int, reaches: list[_Reach]) -> dict[str, float]:
        """How likely each session inside is to have made a change on these lanes at t:
        where its people stood against the lane, and against where the camera saw the
        reaching person. Normalised to sum to 1; empty when nobody is inside."""
        config = self.config
        spots = [self.layout.lane_spots.get((shelf, lane)) for lane in lanes]
        spots_known = [spot for spot in spots if spot is not None]
        lane_k = -0.5 / (config.lane_sigma_mm**2)
        reach_k = -0.5 / (config.reach_sigma_mm**2)
        located = [reach for reach in reaches if reach.x or reach.y]
        scores: dict[str, float] = {}
        for person in itertools.chain(self._people.values(), self._left):
            if person.entered_ms > t or (person.exited_ms is not None and person.exited_ms < t):
                continue
            track = person.track
            px, py = track.at(t)
            score = 1.0
            if spots_known:
                d2 = min((px - s.x_mm) ** 2 + (py - s.y_mm) ** 2 for s in spots_known)
                score *= math.exp(lane_k * d2)
            if located:
                reach_score = 0.0
                for reach in located:
                    rx, ry = track.at((reach.t0 + reach.t1) // 2)
                    reach_score = max(reach_score, math.exp(reach_k * ((rx - reach.x) ** 2 + (ry - reach.y) ** 2)))
                score *= reach_score + 0.02
            scores[person.session] = scores.get(person.session, 0.0) + score + 1e-12
        total = sum(scores.values())
        return {session: score / total for session, score in scores.items()} if total > 0 else {}

    def _weight(self, pending: _Pending, outputs: list[FusionOutput]) -> None:
        weight = pending.weight
        lane = self.lanes.get((weight.shelf, weight.lane))
        spot = self.layout.lane_spots.get((weight.shelf, weight.lane))
        if lane is None or spot is None:
            self.stats.weights_unexplained += 1
            return
        reaches = self._matching_reaches(pending)
        t = (pending.t0 + pending.t1) // 2
        scores = self._people_scores(weight.shelf, (weight.lane,), t, reaches[:2])
        for reach in reaches:
            if reach.session is not None and reach.session in self.sessions:
                self.sessions[reach.session].holds.pop(reach.ref, None)
        if not scores:
            self.stats.weights_unattributed += 1
            return
        reach_ref = reaches[0].ref if reaches else None
        delta = weight.delta_mg
        self._expire_resting(lane, pending.t1)
        if delta >= 0:
            self._put(pending, spot.sku, lane, delta, scores, reach_ref, outputs)
            return
        resting = sum(r.mg for r in lane.resting)
        if resting and abs(delta + resting) <= self.config.release_mg:
            lane.resting.clear()  # a resting hand lifted: nothing moved
            return
        planogram, misplaced = self._product(spot.sku), lane.misplaced
        hypotheses = pick_hypotheses(-delta, weight.noise_mg, planogram, misplaced)
        if resting and -delta > resting:
            # the hand that rested lifted with the item: the change less what it had added
            with_release = pick_hypotheses(-(delta + resting), weight.noise_mg, planogram, misplaced)
            if with_release[0].score >= hypotheses[0].score:
                lane.resting.clear()
                delta += resting
                hypotheses = with_release
        self._pick(pending, spot.sku, lane, -delta, hypotheses, scores, reaches, reach_ref, outputs)

    def _product(self, sku: str) -> Product:
        return self.layout.catalogue[sku]

    def _expire_resting(self, lane: _Lane, t: int) -> None:
        if lane.resting and lane.resting[0].until_ms < t:
            for resting in lane.resting:
                if resting.until_ms < t and resting.session in self.sessions:
                    self._flag(
                        resting.session, "weight_unexplained", t, (resting.ref,),
                        f"{resting.mg} mg added to the lane and never lifted", [],
                    )  # fmt: skip
            lane.resting = [r for r in lane.resting if r.until_ms >= t]

    def _pick(
        self,
        pending: _Pending,
        lane_sku: str,
        lane: _Lane,
        taken_mg: int,
        hypotheses: list[Hypothesis],
        scores: dict[str, float],
        reaches: list[_Reach],
        reach_ref: EventRef | None,
        outputs: list[FusionOutput],
    ) -> None:
        """Book the likeliest reading of `taken_mg` off the lane (`hypotheses`, best first)."""
        weight = pending.weight
        best = hypotheses[0]
        product_p = best.score / sum(h.score for h in hypotheses) if best.score > 0 else 0.0
        taken = self._taken_items(best, lane_sku, lane, taken_mg, weight.noise_mg)
        for session_id, items, attribution in self._split_takers(taken, scores, reaches):
            for sku in sorted({item.sku for item in items}):
                of_sku = [item for item in items if item.sku == sku]
                self._change(session_id, sku, of_sku, pending, reach_ref, attribution, product_p, outputs)
            if not fits(best):
                self.stats.weights_unexplained += 1
                self._flag(
                    session_id, "weight_unexplained", pending.t1, _refs(pending.ref, reach_ref),
                    f"{taken_mg} mg off {weight.shelf}/{weight.lane} fits nothing it holds "
                    f"(best {_describe(best)}, {best.z:.1f} spreads off)", outputs,
                )  # fmt: skip
            elif attribution < self.config.sure_taker or product_p < self.config.sure_product:
                self._flag(
                    session_id, "uncertain", pending.t1, _refs(pending.ref, reach_ref),
                    _doubt(attribution, scores, product_p, hypotheses), outputs,
                )  # fmt: skip

    def _taken_items(self, best: Hypothesis, lane_sku: str, lane: _Lane, taken_mg: int, noise_mg: int) -> list[Item]:
        """The items `best` says came off the lane: the misplaced ones off the top of its stack,
        as they were weighed, and the planogram's, which share the rest of the change."""
        above: list[Item] = []
        planogram = 0
        for sku, count in best.items:
            if sku == lane_sku:
                planogram = count
                continue
            for _ in range(count):
                index = next((i for i in range(len(lane.misplaced) - 1, -1, -1) if lane.misplaced[i].sku == sku), None)
                above.append(lane.misplaced.pop(index) if index is not None else Item.unweighed(self._product(sku)))
        if not planogram:
            return above
        product = self._product(lane_sku)
        if not fits(best):
            return above + [Item.unweighed(product)] * planogram
        rest = taken_mg - sum(item.mg for item in above)
        var = (noise_var(noise_mg) + sum(item.var_mg2 for item in above)) / planogram**2
        var += product.spread_mg**2 * (planogram - 1) / planogram
        return above + [Item(lane_sku, rest / planogram, var)] * planogram

    def _split_takers(
        self, taken: list[Item], scores: dict[str, float], reaches: list[_Reach]
    ) -> list[tuple[str, list[Item], float]]:
        """Who took the items: the likeliest session; or, when the camera saw several people's
        hands leave this lane holding items at once and the change is as many items of one
        product, one item each."""
        holders = []
        for reach in reaches:
            if reach.holding == "item" and reach.session is not None and reach.session not in holders:
                holders.append(reach.session)
        if len(holders) >= 2 and len({item.sku for item in taken}) == 1 and len(taken) >= len(holders):
            # one each, and what is over to the first
            first = len(taken) - len(holders) + 1
            shares = [taken[:first]] + [[item] for item in taken[first:]]
            return [
                (holder, share, max(scores.get(holder, 0.0), 0.5))
                for holder, share in zip(holders, shares, strict=True)
            ]
        session_id, attribution = max(scores.items(), key=lambda item: item[1])
        return [(session_id, taken, attribution)]

    def _put(
        self,
        pending: _Pending,
        lane_sku: str,
        lane: _Lane,
        added_mg: int,
        scores: dict[str, float],
        reach_ref: EventRef | None,
        outputs: list[FusionOutput],
    ) -> None:
        weight = pending.weight
        joint: list[tuple[float, str, Hypothesis]] = []
        for session_id, attribution in scores.items():
            if attribution < 0.005:
                continue
            held = {sku: items for sku, items in self.sessions[session_id].held.items() if items}
            for hypothesis in putback_hypotheses(
                added_mg, weight.noise_mg, held, self.layout.catalogue, lane_sku, len(self.lanes)
            ):
                if fits(hypothesis):
                    joint.append((attribution * hypothesis.score, session_id, hypothesis))
        likeliest = max(scores.items(), key=lambda item: item[1])[0]
        if not joint:
            # nothing anyone holds weighs that: a hand resting, or something put down
            lane.resting.append(_Resting(added_mg, pending.t1 + self.config.resting_ms, pending.ref, likeliest))
            return
        joint.sort(key=lambda item: -item[0])
        score, session_id, best = joint[0]
        confidence = score / sum(item[0] for item in joint)
        sku, count = best.items[0]
        # the items that went back: those whose own weights the change fits best
        carried = self.sessions[session_id].held[sku]
        back = sorted(carried, key=lambda item: abs(item.mg - added_mg / count))[:count]
        self._change(session_id, sku, back, pending, reach_ref, scores[session_id], confidence, outputs, put=True)
        if sku != lane_sku:
            var = noise_var(weight.noise_mg) / count**2
            lane.misplaced.extend(item.weighed_again(added_mg / count, var) if count == 1 else item for item in back)
        if confidence < self.config.sure_product:
            alternatives = ", ".join(f"{s}: {_describe(h)} {p / score:.2f}" for p, s, h in joint[1:3])
            self._flag(
                session_id, "uncertain", pending.t1, _refs(pending.ref, reach_ref),
                f"put-back of {added_mg} mg read as {_describe(best)} ({confidence:.2f}); against {alternatives}",
                outputs,
            )  # fmt: skip

    def _change(
        self,
        session_id: str,
        sku: str,
        items: list[Item],
        pending: _Pending,
        reach_ref: EventRef | None,
        attribution: float,
        product_p: float,
        outputs: list[FusionOutput],
        put: bool = False,
    ) -> None:
        """`items` of `sku` into the session's cart, or out of it when `put` back."""
        session = self.sessions[session_id]
        weight = pending.weight
        held = session.held.setdefault(sku, [])
        if put:
            for item in items:
                held.remove(item)
        else:
            held.extend(items)
        qty = -len(items) if put else len(items)
        change = CartChange(
            sku, qty, pending.t1, weight.shelf, weight.lane, pending.ref, reach_ref,
            round(attribution * 1000), round(product_p * 1000),
        )  # fmt: skip
        session.changes.append(change)
        outputs.append(CartChanged(session_id, change))

    def _flag(
        self,
        session_id: str | None,
        reason: str,
        at_ms: int,
        evidence: tuple[EventRef, ...],
        detail: str,
        outputs: list[FusionOutput],
    ) -> None:
        session = self.sessions.get(session_id) if session_id is not None else None
        if session is None:
            return
        flag = Flag(reason, at_ms, evidence, detail)
        session.flags.append(flag)
        outputs.append(Flagged(session.id, flag))

    # -- receipts -------------------------------------------------------------------------

    def _finalise(self, outputs: list[FusionOutput]) -> None:
        watermark = self._released_ms
        for session in list(self.sessions.values()):
            closed = session.closed_ms
            if closed is None or watermark < closed + self.config.settle_ms:
                continue
            if any(p.key_ms <= closed for p in self._pending):
                continue
            if any(until > watermark for until in session.holds.values()):
                continue
            for ref in session.holds:
                self._flag(
                    session.id, "reach_without_weight", watermark, (ref,),
                    "the camera saw an item taken; its shelf reported no change in time", outputs,
                )  # fmt: skip
            for lane in self.lanes.values():
                for resting in lane.resting:
                    if resting.session == session.id:
                        self._flag(
                            session.id, "weight_unexplained", watermark, (resting.ref,),
                            f"{resting.mg} mg added to a lane and not lifted before the shopper left", outputs,
                        )  # fmt: skip
                        resting.session = None
            receipt = self._receipt(session, closed)
            self.stats.receipts += 1
            self.stats.reviewed += receipt.review
            outputs.append(ReceiptFinal(receipt))
            del self.sessions[session.id]
            self._left = [p for p in self._left if p.session != session.id]

    def _receipt(self, session: _Session, closed_ms: int) -> FusedReceipt:
        # a put-back takes items the cart holds, so no line can go below nothing
        lines = sorted((sku, len(items)) for sku, items in session.held.items() if items)
        flags = list(session.flags)
        confidence = min((c.attribution_pm * c.product_pm // 1000 for c in session.changes), default=1000)
        review = bool(flags)
        final_ms = self._now_ms if self._now_ms < NEVER else max(self._last_recv_ms, closed_ms)
        return FusedReceipt(
            session.id, session.account, session.opened_ms, closed_ms, lines, review, confidence, final_ms,
            flags, list(session.changes),
        )  # fmt: skip


def _refs(weight: EventRef, reach: EventRef | None) -> tuple[EventRef, ...]:
    return (weight,) if reach is None else (weight, reach)


def _describe(hypothesis: Hypothesis) -> str:
    return " + ".join(f"{count}x {sku}" for sku, count in hypothesis.items)


def _doubt(attribution: float, scores: dict[str, float], product_p: float, hypotheses: list[Hypothesis]) -> str:
    parts = []
    if attribution < 0.95:
        others = sorted(scores.values(), reverse=True)[1:2]
        parts.append(
            f"attribution {attribution:.2f} (next {others[0]:.2f})" if others else f"attribution {attribution:.2f}"
        )
    if product_p < 0.95 and len(hypotheses) > 1:
        total = sum(h.score for h in hypotheses)
        parts.append(
            f"read as {_describe(hypotheses[0])} ({product_p:.2f}) against {_describe(hypotheses[1])} "
            f"({hypotheses[1].score / total:.2f})"
        )
    return "; ".join(parts) or "low confidence"

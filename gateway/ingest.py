"""The ingest core: one batch of received messages in, one journal transaction out.

Each message is verified, classified against its sender's sequence, and journaled or
counted as a duplicate or a reject, all inside one transaction. Verdicts are made message
by message against a working copy of the sequence state, so they do not depend on how
messages happen to be batched. In-memory state (sequence marks, clock offsets, device
rows) is swapped in only after the commit succeeds, so a failed commit leaves everything
as it was and the unacknowledged batch comes back.
"""

import logging
import sqlite3
from dataclasses import dataclass, field, replace

from edge.protocol.errors import ProtocolError, Reason
from edge.protocol.messages import AnyMessage, Hello, State
from edge.protocol.topics import Kind, upstream_out_topic
from gateway.clock import ClockOffset
from gateway.journal import DeviceRow, Journal, JournalInsert, Outgoing
from gateway.sequence import Sequencing, Verdict, reachable_boot
from gateway.verify import Verified, Verifier, sender_of

log = logging.getLogger(__name__)

# Devices keep time with chrony against the gateway; a clock further ahead than this is
# broken, and one message from it would drag the device's offset estimate along.
TS_AHEAD_MS = 300_000


@dataclass(frozen=True, slots=True)
class Incoming:
    topic: str
    payload: bytes
    recv_ms: int
    retained: bool = False  # handed over from the broker's retained store


@dataclass(frozen=True, slots=True)
class Rejected:
    incoming: Incoming
    dev: str
    error: ProtocolError


@dataclass(frozen=True, slots=True)
class BootAsked:
    """A node's `hello`, to be answered with the newest boot journaled from it."""

    dev: str
    nonce: str
    last_boot: int


@dataclass
class BatchResult:
    accepted: list[Verified] = field(default_factory=list)
    duplicates: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    outbox: list[Outgoing] = field(default_factory=list)  # queued for upstream in this batch
    journaled: list[tuple[AnyMessage, int]] = field(default_factory=list)  # with recv_ms, in journal order
    asked: list[BootAsked] = field(default_factory=list)  # hellos: never journaled, answered after the commit


@dataclass
class _Tally:
    """One device's row while a batch is in progress."""

    boot: int
    seq: int
    last_recv_ms: int
    state: str | None
    accepted: int
    duplicates: int

    @classmethod
    def of(cls, row: DeviceRow | None) -> "_Tally":
        if row is None:
            return cls(0, 0, 0, None, 0, 0)
        return cls(row.boot, row.seq, row.last_recv_ms, row.state, row.accepted, row.duplicates)

    def accept(self, message: AnyMessage, recv_ms: int) -> None:
        if message.boot > self.boot:
            self.boot, self.seq = message.boot, message.seq
        elif message.boot == self.boot:
            self.seq = max(self.seq, message.seq)
        self.last_recv_ms = recv_ms
        if isinstance(message, State):
            self.state = message.state
        self.accepted += 1

    def row(self, dev: str, offset_ms: int | None) -> DeviceRow:
        return DeviceRow(
            dev, self.boot, self.seq, self.last_recv_ms, self.state, offset_ms, self.accepted, self.duplicates
        )


Key = tuple[str, int, int, bytes]


def _key(verified: Verified) -> Key:
    """What makes a message unique in the journal: (dev, boot, seq) for an event; for a state,
    which stands outside the sequence, its exact bytes."""
    message = verified.message
    return (message.dev, message.boot, message.seq, verified.data if message.seq == 0 else b"")


class IngestCore:
    def __init__(
        self, verifier: Verifier, journal: Journal, window: int, forward: frozenset[str] = frozenset()
    ) -> None:
        """`forward`: the event types that go upstream as received (DESIGN section 3: `palm`)."""
        self._verifier = verifier
        self._journal = journal
        self._forward = forward
        self.sequencing = Sequencing(window, journal.high_water_marks(), journal.newest_boots())
        self.devices: dict[str, DeviceRow] = self._rows_at_marks(journal.devices())
        self.clocks: dict[str, ClockOffset] = {}
        # the boots journaled per node, read once at its first hello and kept up to date
        self._boots: dict[str, set[int]] = {}

    def reload_marks(self) -> None:
        """Take the sequence marks afresh from the journal: an operator reset a device's."""
        self.sequencing = Sequencing(
            self.sequencing.window, self._journal.high_water_marks(), self._journal.newest_boots()
        )
        self.devices = self._rows_at_marks(self._journal.devices())

    def _rows_at_marks(self, rows: dict[str, DeviceRow]) -> dict[str, DeviceRow]:
        """Device rows whose boot and seq agree with the marks (after a reset they did not),
        saved: the journal process owns the rows, so it is what mends them."""
        mended: dict[str, DeviceRow] = {}
        for dev, row in rows.items():
            boot = self.sequencing.newest_boot.get(dev, 0)
            high = self.sequencing.high.get(dev, (0, 0))
            seq = high[1] if high[0] == boot else 0
            mended[dev] = row if (row.boot, row.seq) == (boot, seq) else replace(row, boot=boot, seq=seq)
        for dev, row in mended.items():
            if row is not rows[dev]:
                self._journal.save_device(row)
        return mended

    def use(self, verifier: Verifier) -> None:
        """Verify from now on against another registry (one reloaded from disk)."""
        self._verifier = verifier

    def process(self, batch: list[Incoming]) -> BatchResult:
        result = BatchResult()
        sequencing = self.sequencing.copy()
        candidates: list[tuple[Incoming, Verified]] = []
        pending: dict[Key, bytes] = {}
        known_duplicates: list[str] = []
        self._journal.begin()
        try:
            for incoming in batch:
                try:
                    verified = self._verifier.authentic(incoming.topic, incoming.payload)
                    _place(verified, sequencing)
                    _check_retained(verified, incoming.retained)
                    _check_ts(verified.message, incoming.recv_ms)
                    self._verifier.check_assigned(verified)
                    if isinstance(verified.message, Hello):
                        # One answer per node and batch: a flood of hellos costs one each.
                        result.asked = [a for a in result.asked if a.dev != verified.message.dev]
                        result.asked.append(self._asked(verified.message, sequencing))
                        continue
                    new = self._is_new(verified, incoming.payload, sequencing, pending)
                except ProtocolError as error:
                    self._reject(result, incoming, error)
                    continue
                except sqlite3.Error:
                    raise
                except Exception as failure:
                    # A bug must cost one counted message, never stall the ingest on a retried batch.
                    log.exception("unexpected failure on a message from %s", incoming.topic)
                    bug = ProtocolError(Reason.INTERNAL_ERROR, f"{type(failure).__name__}: {failure}")
                    self._reject(result, incoming, bug)
                    continue
                message: AnyMessage = verified.message
                if new:
                    candidates.append((incoming, verified))
                    pending[_key(verified)] = incoming.payload
                    sequencing.accept(message.dev, message.boot, message.seq)
                else:
                    known_duplicates.append(message.dev)
            inserted = self._journal.insert_many(
                [
                    JournalInsert(i.recv_ms, i.topic, v.message.dev, v.message.boot, v.message.seq, v.message.ts,
                                  v.message.type, i.payload)
                    for i, v in candidates
                ]
            )  # fmt: skip
            tallies: dict[str, _Tally] = {}
            clocks: dict[str, ClockOffset] = {}
            for dev in known_duplicates:
                self._tally(tallies, dev).duplicates += 1
                result.duplicates += 1
            for (incoming, verified), journaled in zip(candidates, inserted, strict=True):
                message = verified.message
                tally = self._tally(tallies, message.dev)
                if not journaled:
                    journaled_payload = self._journal.payload_of(message.dev, message.boot, message.seq)
                    if message.seq > 0 and journaled_payload != incoming.payload:
                        self._reject(result, incoming, _reused(message))
                        continue
                    tally.duplicates += 1
                    result.duplicates += 1
                    continue
                tally.accept(message, incoming.recv_ms)
                result.accepted.append(verified)
                result.journaled.append((message, incoming.recv_ms))
                if message.type in self._forward and verified.topic.kind is Kind.EVENT:
                    topic = upstream_out_topic(verified.topic.store, message.type)
                    result.outbox.append(self._journal.queue_upstream(topic, incoming.payload, incoming.recv_ms))
                if message.dev not in clocks:
                    clocks[message.dev] = self.clocks.get(message.dev, ClockOffset()).copy()
                clocks[message.dev].add(message.ts, incoming.recv_ms)
            rows = {dev: tally.row(dev, self._offset(dev, clocks)) for dev, tally in tallies.items()}
            for row in rows.values():
                self._journal.save_device(row)
            self._journal.commit()
        except BaseException:
            self._journal.rollback()
            raise
        self.sequencing = sequencing
        self.clocks.update(clocks)
        self.devices.update(rows)
        for message, _ in result.journaled:
            if message.dev in self._boots:
                self._boots[message.dev].add(message.boot)
        return result

    def _asked(self, hello: Hello, sequencing: Sequencing) -> BootAsked:
        """The newest boot of anything from the sender, journaled or earlier in this batch, that
        genuine starts could have reached: one taken before the bounds (a boot of 2^53, say)
        would leave the node no boot to take."""
        if hello.dev not in self._boots:
            self._boots[hello.dev] = self._journal.boots_of(hello.dev)
        newest = sequencing.newest_boot.get(hello.dev)
        boots = self._boots[hello.dev] | ({newest} if newest is not None else set())
        return BootAsked(hello.dev, hello.nonce, reachable_boot(boots))

    def _tally(self, tallies: dict[str, _Tally], dev: str) -> _Tally:
        if dev not in tallies:
            tallies[dev] = _Tally.of(self.devices.get(dev))
        return tallies[dev]

    def _offset(self, dev: str, clocks: dict[str, ClockOffset]) -> int | None:
        clock = clocks.get(dev) or self.clocks.get(dev)
        return clock.offset_ms if clock is not None else None

    def _reject(self, result: BatchResult, incoming: Incoming, error: ProtocolError) -> None:
        dev = sender_of(incoming.topic)
        self._journal.count_reject(error.reason, dev, incoming.recv_ms, error.detail)
        result.rejected.append(Rejected(incoming, dev, error))

    def _is_new(self, verified: Verified, payload: bytes, sequencing: Sequencing, pending: dict[Key, bytes]) -> bool:
        """True for a message to journal, False for a duplicate (a redelivery, byte for byte);
        ProtocolError for a replay, or for a sequence number reused with other content.

        A message taken earlier in this batch is compared with that one; one the journal
        turns out to hold already is found when it is inserted.
        """
        message = verified.message
        earlier = pending.get(_key(verified))
        if earlier is not None:
            # Two copies in one batch that differ: the one the journal already holds is the true one.
            if earlier == payload or self._journal.payload_of(message.dev, message.boot, message.seq) == payload:
                return False
            raise _reused(message)
        if message.seq == 0:
            if sequencing.state_is_current(message.dev, message.boot):
                return True
            if self._journal.holds_state(message.dev, message.boot, payload):
                return False
            raise ProtocolError(Reason.REPLAY, f"state of boot {message.boot} is older than the newest boot seen")
        if sequencing.classify_event(message.dev, message.boot, message.seq) is not Verdict.OLD:
            return True
        journaled = self._journal.payload_of(message.dev, message.boot, message.seq)
        if journaled is None:
            raise ProtocolError(Reason.REPLAY, f"{message.boot}/{message.seq} is older than the dedupe window")
        if journaled != payload:
            raise _reused(message)
        return False


def _check_retained(verified: Verified, retained: bool) -> None:
    """Only a node's `state` is published retained. MQTT 3.1.1 clears the flag on a live
    delivery, so an event published retained is journaled once as it was sent; its retained
    copy, handed over again on every subscribe, is refused here (and cleared by the service)."""
    if retained and verified.topic.kind is not Kind.STATE:
        raise ProtocolError(Reason.RETAINED, f"{verified.message.type} {verified.message.boot}/{verified.message.seq} "
                            "was published retained")  # fmt: skip


def _place(verified: Verified, sequencing: Sequencing) -> None:
    """The bounds on boot and seq, first of the body's checks, so that a genuine message
    refused by a later one still counts as the base of the next bound. Upstream numbers its
    messages across all its stores, so each store sees gaps in its sequence: not bounded."""
    if verified.topic.kind is not Kind.UPSTREAM_IN:
        sequencing.place(verified.message.dev, verified.message.boot, verified.message.seq)


def _check_ts(message: AnyMessage, recv_ms: int) -> None:
    if message.ts > recv_ms + TS_AHEAD_MS:
        raise ProtocolError(Reason.TS_AHEAD, f"ts {message.ts} is more than {TS_AHEAD_MS} ms ahead of {recv_ms}")


def _reused(message: AnyMessage) -> ProtocolError:
    """The same (boot, seq) with other content: the device's boot counter went back (a lost or
    restored boot.json). Dropping it as a duplicate would lose an event without a word."""
    return ProtocolError(Reason.BOOT_REUSED, f"{message.boot}/{message.seq} was journaled with other content")

"""The ingest core: one batch of received messages in, one journal transaction out.

Each message is verified, classified against its sender's sequence, and journaled or
counted as a duplicate or a reject, all inside one transaction. In-memory state
(sequence marks, clock offsets, device rows) moves only after the commit succeeds, so a
failed commit leaves everything as it was and the unacknowledged batch comes back.
"""

import logging
import sqlite3
from dataclasses import dataclass, field, replace

from edge.protocol.errors import ProtocolError, Reason
from edge.protocol.messages import State
from gateway.clock import ClockOffset
from gateway.journal import DeviceRow, Journal
from gateway.sequence import Sequencing, Verdict
from gateway.verify import Verified, Verifier, sender_of

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Incoming:
    topic: str
    payload: bytes
    recv_ms: int


@dataclass(frozen=True, slots=True)
class Rejected:
    incoming: Incoming
    dev: str
    error: ProtocolError


@dataclass
class BatchResult:
    accepted: list[Verified] = field(default_factory=list)
    duplicates: int = 0
    rejected: list[Rejected] = field(default_factory=list)


class IngestCore:
    def __init__(self, verifier: Verifier, journal: Journal, window: int) -> None:
        self._verifier = verifier
        self._journal = journal
        self.sequencing = Sequencing(window, journal.high_water_marks(), journal.newest_boots())
        self.devices: dict[str, DeviceRow] = journal.devices()
        self.clocks: dict[str, ClockOffset] = {}

    def process(self, batch: list[Incoming]) -> BatchResult:
        result = BatchResult()
        sequencing = self.sequencing.copy()
        touched: dict[str, DeviceRow] = {}
        samples: list[tuple[str, int, int]] = []
        self._journal.begin()
        try:
            for incoming in batch:
                try:
                    verified = self._verifier.verify(incoming.topic, incoming.payload)
                    journaled = self._journal_one(incoming, verified, sequencing)
                except ProtocolError as error:
                    self._reject(result, incoming, error)
                    continue
                except sqlite3.Error:
                    raise
                except Exception as failure:
                    # A bug must cost one counted message, never stall the ingest on a retried batch.
                    log.exception("unexpected failure on a message from %s", incoming.topic)
                    self._reject(
                        result, incoming, ProtocolError(Reason.INTERNAL_ERROR, f"{type(failure).__name__}: {failure}")
                    )
                    continue
                message = verified.message
                row = (
                    touched.get(message.dev)
                    or self.devices.get(message.dev)
                    or DeviceRow(message.dev, 0, 0, 0, None, None, 0, 0)
                )
                if journaled:
                    sequencing.accept(message.dev, message.boot, message.seq)
                    result.accepted.append(verified)
                    samples.append((message.dev, message.ts, incoming.recv_ms))
                    state = message.state if isinstance(message, State) else row.state
                    if message.boot > row.boot:
                        seq = message.seq
                    elif message.boot == row.boot:
                        seq = max(row.seq, message.seq)
                    else:
                        seq = row.seq
                    row = replace(
                        row,
                        boot=max(row.boot, message.boot),
                        seq=seq,
                        last_recv_ms=incoming.recv_ms,
                        state=state,
                        accepted=row.accepted + 1,
                    )
                else:
                    result.duplicates += 1
                    row = replace(row, duplicates=row.duplicates + 1)
                touched[message.dev] = row
            clocks = {dev: self.clocks.get(dev, ClockOffset()).copy() for dev, _, _ in samples}
            for dev, sent, recv in samples:
                clocks[dev].add(sent, recv)
            for dev, clock in clocks.items():
                touched[dev] = replace(touched[dev], offset_ms=clock.offset_ms)
            for row in touched.values():
                self._journal.save_device(row)
            self._journal.commit()
        except BaseException:
            self._journal.rollback()
            raise
        self.sequencing = sequencing
        self.clocks.update(clocks)
        self.devices.update(touched)
        return result

    def _reject(self, result: BatchResult, incoming: Incoming, error: ProtocolError) -> None:
        dev = sender_of(incoming.topic)
        self._journal.count_reject(error.reason, dev, incoming.recv_ms, error.detail)
        result.rejected.append(Rejected(incoming, dev, error))

    def _journal_one(self, incoming: Incoming, verified: Verified, sequencing: Sequencing) -> bool:
        """Journal an accepted message; False for a duplicate; ProtocolError(REPLAY) for a replay."""
        message = verified.message
        if message.seq == 0:
            if not sequencing.state_is_current(message.dev, message.boot):
                if self._journal.holds_state(message.dev, message.boot, message.ts):
                    return False
                raise ProtocolError(Reason.REPLAY, f"state of boot {message.boot} is older than the newest boot seen")
        elif sequencing.classify_event(message.dev, message.boot, message.seq) is Verdict.OLD:
            if self._journal.holds(message.dev, message.boot, message.seq):
                return False
            raise ProtocolError(Reason.REPLAY, f"{message.boot}/{message.seq} is older than the dedupe window")
        return self._journal.insert(
            incoming.recv_ms,
            incoming.topic,
            message.dev,
            message.boot,
            message.seq,
            message.ts,
            message.type,
            incoming.payload,
        )

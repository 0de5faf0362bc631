"""The fusion engine run live over the journal, and the receipts it makes final sent upstream.

The engine sees exactly what the journal holds, in journal order: on start it replays the
whole journal (a restart is a replay, DESIGN section 6), then it is fed each batch once the
batch is committed. A final receipt is recorded in the journal's receipts table and queued
in the outbox in one transaction, signed with the gateway's key, so each session's receipt
goes upstream once: a crash before that commit makes the replay after it issue the receipt,
and a crash after it finds the receipt recorded. The engine's time is the messages' time,
never the wall clock; the cameras' presence frames, empty or not, keep it moving.
"""

import logging
from collections.abc import Callable, Iterable, Iterator

from nacl.signing import SigningKey

from edge.protocol.envelope import seal
from edge.protocol.messages import AnyMessage, Receipt, decode_message, encode_message
from edge.protocol.topics import upstream_out_topic
from gateway.fusion.engine import FusionEngine
from gateway.fusion.model import FusedReceipt
from gateway.fusion.replay import Observer, finals
from gateway.journal import Journal, Outgoing
from gateway.layout import StoreLayout

log = logging.getLogger(__name__)

# Told of a message the engine failed on: the message, its receive time, the error.
ErrorHandler = Callable[[AnyMessage, int, Exception], None]


def log_error(message: AnyMessage, recv_ms: int, error: Exception) -> None:
    log.error("fusion failed on %s %s/%d/%d: %r", message.type, message.dev, message.boot, message.seq, error)


class LiveFusion:
    def __init__(self, layout: StoreLayout, journal: Journal, gateway_id: str, boot: int, key: SigningKey) -> None:
        self.engine = FusionEngine(layout)
        # set by whoever watches the engine (the operator view, which needs the engine first)
        self.observe: Observer | None = None
        self.on_error: ErrorHandler = log_error
        self._journal = journal
        self._topic = upstream_out_topic(layout.store, "receipt")
        self._id = gateway_id
        self._boot = boot
        self._key = key

    def catch_up(self, now_ms: int) -> list[Outgoing]:
        """Replay the journal; the receipts it makes final that were never issued, queued now."""
        receipts = self._feed(journal_entries(self._journal))
        queued = self._issue(receipts, now_ms)
        log.info(
            "fusion replayed %d journaled messages: %d sessions open, %d receipts final, %d of them queued now",
            self.engine.stats.messages, len(self.engine.sessions), len(receipts), len(queued),
        )  # fmt: skip
        return queued

    def committed(self, journaled: Iterable[tuple[AnyMessage, int]], now_ms: int) -> list[Outgoing]:
        """Messages just committed to the journal, in its order; the receipts queued for upstream."""
        receipts = self._feed(journaled)
        return self._issue(receipts, now_ms) if receipts else []

    def _feed(self, entries: Iterable[tuple[AnyMessage, int]]) -> list[FusedReceipt]:
        """As gateway.fusion.replay.feed, but one message the engine fails on costs only what
        the engine would have made of it: it is journaled already, and a restart replays it,
        so letting the error through would stop the gateway on every start (DESIGN section 5)."""
        receipts: list[FusedReceipt] = []
        for message, recv_ms in entries:
            try:
                outputs = self.engine.apply(message, recv_ms)
            except Exception as error:
                self.on_error(message, recv_ms, error)
                outputs = []
            if self.observe is not None:
                self.observe(message, recv_ms, outputs)
            receipts += finals(outputs)
        return receipts

    def _issue(self, receipts: list[FusedReceipt], now_ms: int) -> list[Outgoing]:
        queued: list[Outgoing] = []
        self._journal.begin()
        try:
            for receipt in receipts:

                def sign(number: int, receipt: FusedReceipt = receipt) -> bytes:
                    return seal(self._key, encode_message(self._message(receipt, number)))

                outgoing = self._journal.issue_receipt(receipt.session, self._topic, sign, now_ms)
                if outgoing is not None:
                    queued.append(outgoing)
                    log.info(
                        "receipt %s: %d lines%s", receipt.session, len(receipt.lines), ", for review" * receipt.review
                    )
            self._journal.commit()
        except BaseException:
            self._journal.rollback()
            raise
        return queued

    def _message(self, receipt: FusedReceipt, number: int) -> Receipt:
        return Receipt(
            v=1,
            dev=self._id,
            boot=self._boot,
            seq=number,
            ts=receipt.final_ms,
            session=receipt.session,
            account=receipt.account,
            lines=list(receipt.lines),
            opened_ms=receipt.opened_ms,
            closed_ms=receipt.closed_ms,
            review=receipt.review,
        )


def journal_entries(journal: Journal) -> Iterator[tuple[AnyMessage, int]]:
    """The journal's messages in its order, as the engine takes them."""
    for row in journal.rows():
        yield decode_message(row.message), row.recv_ms

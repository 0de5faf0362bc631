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
from collections.abc import Iterable, Iterator

from nacl.signing import SigningKey

from edge.protocol.envelope import seal
from edge.protocol.messages import AnyMessage, Receipt, decode_message, encode_message
from edge.protocol.topics import upstream_out_topic
from gateway.fusion.engine import FusionEngine
from gateway.fusion.model import FusedReceipt
from gateway.fusion.replay import Observer, feed
from gateway.journal import Journal, Outgoing
from gateway.layout import StoreLayout

log = logging.getLogger(__name__)


class LiveFusion:
    def __init__(self, layout: StoreLayout, journal: Journal, gateway_id: str, boot: int, key: SigningKey) -> None:
        self.engine = FusionEngine(layout)
        # set by whoever watches the engine (the operator view, which needs the engine first)
        self.observe: Observer | None = None
        self._journal = journal
        self._topic = upstream_out_topic(layout.store, "receipt")
        self._id = gateway_id
        self._boot = boot
        self._key = key

    def catch_up(self, now_ms: int) -> list[Outgoing]:
        """Replay the journal; the receipts it makes final that were never issued, queued now."""
        receipts = feed(self.engine, journal_entries(self._journal), self.observe)
        queued = self._issue(receipts, now_ms)
        log.info(
            "fusion replayed %d journaled messages: %d sessions open, %d receipts final, %d of them queued now",
            self.engine.stats.messages, len(self.engine.sessions), len(receipts), len(queued),
        )  # fmt: skip
        return queued

    def committed(self, journaled: Iterable[tuple[AnyMessage, int]], now_ms: int) -> list[Outgoing]:
        """Messages just committed to the journal, in its order; the receipts queued for upstream."""
        receipts = feed(self.engine, journaled, self.observe)
        return self._issue(receipts, now_ms) if receipts else []

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

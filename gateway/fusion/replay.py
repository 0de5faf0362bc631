"""The replay contract of DESIGN section 6: JSON lines of accepted messages in receive
order (`{"topic", "msg", "recv_ms"}`) and a store layout in; the receipts and the run's
statistics out. `storegw replay`, `storegw explain`, the live gateway (gateway.live_fusion)
and the fusion benchmark all feed the engine through here, so they cannot drift apart."""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from typing import Any

import msgspec

from edge.protocol.messages import AnyMessage
from gateway.fusion.engine import FusionConfig, FusionEngine
from gateway.fusion.model import FusedReceipt, FusionOutput, ReceiptFinal
from gateway.layout import StoreLayout


class ReplayLine(msgspec.Struct, frozen=True):
    topic: str
    msg: AnyMessage
    recv_ms: int


class ReplayError(ValueError):
    """A line that does not follow the replay contract; names the line."""


_decoder = msgspec.json.Decoder(ReplayLine)


def replay(
    layout: StoreLayout, lines: Iterable[bytes], config: FusionConfig | None = None
) -> tuple[FusionEngine, list[FusedReceipt]]:
    """Run the engine over `lines` and to the end of time; the engine and the final receipts."""
    engine = FusionEngine(layout, config)
    receipts = feed(engine, _decoded(lines))
    receipts += finals(engine.finish())
    return engine, receipts


# Sees each message fed, with what the engine made of it (the operator view watches so).
Observer = Callable[[AnyMessage, int, list[FusionOutput]], None]


def feed(
    engine: FusionEngine, entries: Iterable[tuple[AnyMessage, int]], observe: Observer | None = None
) -> list[FusedReceipt]:
    """Messages with their receive times, in receive order; the receipts they made final."""
    receipts: list[FusedReceipt] = []
    for message, recv_ms in entries:
        outputs = engine.apply(message, recv_ms)
        if observe is not None:
            observe(message, recv_ms, outputs)
        receipts += finals(outputs)
    return receipts


def finals(outputs: list[FusionOutput]) -> list[FusedReceipt]:
    return [output.receipt for output in outputs if isinstance(output, ReceiptFinal)]


def _decoded(lines: Iterable[bytes]) -> Iterator[tuple[AnyMessage, int]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = _decoder.decode(line)
        except (msgspec.ValidationError, msgspec.DecodeError) as error:
            raise ReplayError(f"line {number}: {error}") from None
        yield entry.msg, entry.recv_ms


def receipt_json(receipt: FusedReceipt) -> dict[str, Any]:
    return {
        "session": receipt.session,
        "account": receipt.account,
        "opened_ms": receipt.opened_ms,
        "closed_ms": receipt.closed_ms,
        "lines": [{"sku": sku, "qty": qty} for sku, qty in receipt.lines],
        "review": receipt.review,
        "confidence_pm": receipt.confidence_pm,
    }


def result_json(engine: FusionEngine, receipts: list[FusedReceipt]) -> dict[str, Any]:
    stats = asdict(engine.stats)
    stats["open_sessions"] = len(engine.sessions)
    return {"receipts": [receipt_json(r) for r in receipts], "stats": stats}

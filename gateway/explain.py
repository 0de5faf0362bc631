"""`storegw explain SESSION`: a receipt line by line with the journaled events behind each
line and each review flag. Pure: a receipt and a way to look events up in, text out.

Every line lists the cart changes that make it up (picks and put-backs, so a line that nets
to nothing still shows), each with the shelf's weight event, the camera's interaction it was
matched to, and how sure the engine was of who moved it and of what it was.
"""

from collections.abc import Callable
from datetime import UTC, datetime

from edge.protocol.messages import AnyMessage, Interaction, Weight
from gateway.fusion.model import CartChange, EventRef, FusedReceipt

Lookup = Callable[[EventRef], AnyMessage | None]


def explain(receipt: FusedReceipt, lookup: Lookup, final: bool) -> list[str]:
    out = [
        f"session {receipt.session}  account {receipt.account or '-'}",
        f"  opened {_time(receipt.opened_ms)}  closed {_time(receipt.closed_ms)}  "
        + (f"final {_time(receipt.final_ms)}" if final else "not final yet")
        + f"  confidence {receipt.confidence_pm / 1000:.2f}{'  FOR REVIEW' if receipt.review else ''}",
    ]
    net = dict(receipt.lines)
    skus = sorted({change.sku for change in receipt.changes} | set(net))
    if not skus:
        out.append("  nothing taken")
    for sku in skus:
        out.append(f"  {net.get(sku, 0)}x {sku}")
        for change in (c for c in receipt.changes if c.sku == sku):
            out += _change(change, lookup)
    for flag in receipt.flags:
        out.append(f"  review: {flag.reason} at {_time(flag.at_ms)}: {flag.detail}")
        out += [f"      {_ref(ref)} {_event(lookup(ref))}" for ref in flag.evidence]
    return out


def _change(change: CartChange, lookup: Lookup) -> list[str]:
    verb = "took" if change.qty > 0 else "put back"
    lines = [
        f"    {verb} {abs(change.qty)} at {_time(change.at_ms)} from {change.shelf} lane {change.lane}"
        f"  (who {change.attribution_pm / 1000:.2f}, what {change.product_pm / 1000:.2f})",
        f"      weight {_ref(change.weight)} {_event(lookup(change.weight))}",
    ]
    if change.reach is None:
        lines.append("      no camera interaction matched")
    else:
        lines.append(f"      reach  {_ref(change.reach)} {_event(lookup(change.reach))}")
    return lines


def _event(message: AnyMessage | None) -> str:
    if message is None:
        return "(not in the journal)"
    if isinstance(message, Weight):
        return f"{message.delta_mg / 1000:+.1f} g on lane {message.lane}, {_time(message.t0)} to {_time(message.t1)}"
    if isinstance(message, Interaction):
        return (
            f"hand in lanes {message.lanes} {_time(message.t0)} to {_time(message.t1)}, reacher at"
            f" ({message.x_mm}, {message.y_mm}) mm, left holding {message.holding}"
        )
    return f"{message.type} at {_time(message.ts)}"


def _ref(ref: EventRef) -> str:
    dev, boot, seq = ref
    return f"{dev} {boot}/{seq}"


def _time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M:%S.%f")[:-3]

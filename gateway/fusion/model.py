"""What the fusion engine says: its outputs, the receipt it finalises, and the evidence
behind every line and flag. Pure data."""

from dataclasses import dataclass, field

EventRef = tuple[str, int, int]  # (dev, boot, seq): an accepted message in the journal


@dataclass(frozen=True, slots=True)
class CartChange:
    """One line movement: `qty` items of `sku` into (positive) or out of (negative) a cart."""

    sku: str
    qty: int
    at_ms: int
    shelf: str
    lane: int
    weight: EventRef
    reach: EventRef | None  # the camera's interaction it was matched to, if any
    attribution_pm: int  # how sure the engine is that this session moved it
    product_pm: int  # how sure it is of the product and count


@dataclass(frozen=True, slots=True)
class Flag:
    """Why a receipt goes to review, and the events behind the doubt."""

    reason: str
    at_ms: int
    evidence: tuple[EventRef, ...]
    detail: str


@dataclass(frozen=True, slots=True)
class FusedReceipt:
    session: str
    account: str | None
    opened_ms: int
    closed_ms: int
    lines: list[tuple[str, int]]  # (sku, qty), qty > 0, sorted by sku
    review: bool
    confidence_pm: int
    final_ms: int  # the receive time at which the engine made it final
    flags: list[Flag] = field(default_factory=list)
    changes: list[CartChange] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SessionOpened:
    session: str
    account: str | None
    at_ms: int
    companion: bool  # another person joined a session open on the same account


@dataclass(frozen=True, slots=True)
class CartChanged:
    session: str
    change: CartChange


@dataclass(frozen=True, slots=True)
class Flagged:
    session: str
    flag: Flag


@dataclass(frozen=True, slots=True)
class SessionClosed:
    session: str
    at_ms: int


@dataclass(frozen=True, slots=True)
class ReceiptFinal:
    receipt: FusedReceipt


FusionOutput = SessionOpened | CartChanged | Flagged | SessionClosed | ReceiptFinal

"""Every message type of wire protocol v1 as a typed, frozen struct, and strict decoding.

Integers only on the wire (mg, mm, ms, per-mille); every integer is bounded so that
it fits SQLite and JSON consumers alike. Decoding takes one msgspec pass; only when
that fails is the input examined again to name the reason precisely.
"""

import json
import re
from typing import Annotated, Any, Final, Literal, TypedDict

import msgspec
from msgspec import Meta

from edge.protocol.errors import ProtocolError, Reason

PROTOCOL_VERSION: Final = 1
_MAX_SAFE = 2**53

Name = Annotated[str, Meta(pattern=r"^[a-z0-9-]{1,64}\Z")]
CounterName = Annotated[str, Meta(pattern=r"^[a-z0-9_-]{1,64}\Z")]
Ref = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]{1,64}\Z")]
Sku = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_.-]{1,64}\Z")]
Base64 = Annotated[str, Meta(pattern=r"^[A-Za-z0-9+/]*={0,2}\Z", max_length=8192)]
QrToken = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_.=-]{1,2048}\Z")]
Ms = Annotated[int, Meta(ge=0, le=_MAX_SAFE)]
Count = Annotated[int, Meta(ge=0, le=_MAX_SAFE)]
Signed = Annotated[int, Meta(ge=-_MAX_SAFE, le=_MAX_SAFE)]
PerMille = Annotated[int, Meta(ge=0, le=1000)]
Lane = Annotated[int, Meta(ge=0, le=1023)]
TempC10 = Annotated[int, Meta(ge=-32768, le=32767)]


class Message(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, frozen=True):
    """The header every message carries; `type` is the struct's tag."""

    v: Literal[1]
    dev: Name
    boot: Count
    seq: Count
    ts: Ms

    @property
    def type(self) -> str:
        return str(self.__struct_config__.tag)


class HeaderFields(TypedDict):
    v: Literal[1]
    dev: str
    boot: int
    seq: int
    ts: int


# Messages are built with this placeholder header; whoever sends them stamps the real one
# (`Node.emit` on a device, the command signer on the gateway).
UNSTAMPED: HeaderFields = {"v": 1, "dev": "unstamped", "boot": 0, "seq": 0, "ts": 0}


class Weight(Message, tag="weight", frozen=True):
    shelf: Name
    lane: Lane
    t0: Ms
    t1: Ms
    delta_mg: Signed
    before_mg: Signed
    after_mg: Signed
    noise_mg: Count


class Telemetry(Message, tag="telemetry", frozen=True):
    shelf: Name
    lanes: Annotated[list[tuple[Lane, Signed]], Meta(max_length=1024)]


class Interaction(Message, tag="interaction", frozen=True):
    shelf: Name
    lanes: Annotated[list[Lane], Meta(max_length=1024)]
    t0: Ms
    t1: Ms
    x_mm: Signed
    y_mm: Signed
    conf_pm: PerMille
    holding: Literal["none", "item", "unknown"]


class Presence(Message, tag="presence", frozen=True):
    people: Annotated[list[tuple[Signed, Signed, PerMille]], Meta(max_length=256)]


class Passage(Message, tag="passage", frozen=True):
    gate: Name
    dir: Literal["in", "out"]
    t: Ms
    grant: Ref | None
    x_mm: Signed
    y_mm: Signed


class Alarm(Message, tag="alarm", frozen=True):
    """A gate's door alarm: someone passed in with no grant, or the passage stayed blocked."""

    gate: Name
    kind: Literal["door_forced", "door_held"]
    t: Ms


class Palm(Message, tag="palm", frozen=True):
    req: Ref
    purpose: Literal["entry", "enroll", "delete"]
    sealed: Base64
    quality_pm: PerMille
    live_pm: PerMille


class Qr(Message, tag="qr", frozen=True):
    req: Ref
    token: QrToken


class Health(Message, tag="health", frozen=True):
    uptime_s: Count
    spool: Count
    temp_c10: TempC10
    counters: Annotated[dict[CounterName, Signed], Meta(max_length=64)] = {}


class State(Message, tag="state", frozen=True):
    state: Literal["online", "stopped", "offline"]


class Hello(Message, tag="hello", frozen=True):
    """A node asking the gateway for the newest boot it holds from it, before the node stamps
    anything: it stands outside any boot (boot 0, seq 0), and `nonce` makes the answer fresh."""

    nonce: Ref


class Open(Message, tag="open", frozen=True):
    node: Name
    req: Ref
    session: Ref
    ttl_ms: Annotated[int, Meta(ge=1, le=600_000)]


class Deny(Message, tag="deny", frozen=True):
    node: Name
    req: Ref
    reason: CounterName  # snake_case, as QR refusals and reject reasons are
    ttl_ms: Annotated[int, Meta(ge=1, le=600_000)]


class BootAnswer(Message, tag="boot", frozen=True):
    """The gateway's answer to a `hello`: the newest boot it has journaled from `node`, 0 for none."""

    node: Name
    nonce: Ref
    last_boot: Count


class Decision(Message, tag="decision", frozen=True):
    req: Ref
    result: Literal["match", "nomatch", "error"]
    account: Ref | None
    score_pm: PerMille


class Receipt(Message, tag="receipt", frozen=True):
    session: Ref
    account: Ref | None
    lines: Annotated[list[tuple[Sku, Annotated[int, Meta(ge=-10_000, le=10_000)]]], Meta(max_length=1000)]
    opened_ms: Ms
    closed_ms: Ms
    review: bool


AnyMessage = (
    Weight
    | Telemetry
    | Interaction
    | Presence
    | Passage
    | Alarm
    | Palm
    | Qr
    | Health
    | State
    | Hello
    | Open
    | Deny
    | BootAnswer
    | Decision
    | Receipt
)
MESSAGE_TYPES: Final[dict[str, type[Message]]] = {
    str(cls.__struct_config__.tag): cls
    for cls in (
        Weight,
        Telemetry,
        Interaction,
        Presence,
        Passage,
        Alarm,
        Palm,
        Qr,
        Health,
        State,
        Hello,
        Open,
        Deny,
        BootAnswer,
        Decision,
        Receipt,
    )
}
COMMAND_TYPES: Final = frozenset({"open", "deny", "boot"})
# Outside every sender's sequence: they carry seq 0.
UNSEQUENCED_TYPES: Final = frozenset({"state", "hello"})

_decoder = msgspec.json.Decoder(AnyMessage)
_encoder = msgspec.json.Encoder()
_WRONG_TYPE = re.compile(r"^Expected `[^`]+`, got `")


def encode_message(message: Message) -> bytes:
    return _encoder.encode(message)


# No message type nests deeper than an object holding a list of lists (telemetry's lanes).
MAX_DEPTH: Final = 8


def decode_message(data: bytes) -> AnyMessage:
    """Decode message bytes into their typed struct, or raise ProtocolError naming why not."""
    try:
        message = _decoder.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, RecursionError) as error:
        raise _explain(data, error) from None
    # msgspec keeps the last of two equal keys where another parser may keep the first, so
    # a message with one must not mean anything. Its shape is known to be shallow here.
    _refuse_duplicate_keys(data)
    return message


def _refuse_duplicate_keys(data: bytes) -> None:
    try:
        json.loads(data, object_pairs_hook=_unique_keys)
    except _DuplicateKey as duplicate:
        raise ProtocolError(Reason.DUPLICATE_KEY, f"key {duplicate.key!r} appears twice in one object") from None


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key[:64]


def _unique_keys(pairs: list[tuple[str, Any]]) -> None:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen.add(key)


def _explain(data: bytes, error: Exception) -> ProtocolError:
    depth = _depth(data)
    if depth > MAX_DEPTH:
        return ProtocolError(Reason.TOO_DEEP, f"JSON nests {depth} or more deep, limit {MAX_DEPTH}")
    try:
        loose = msgspec.json.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError) as not_json:
        return ProtocolError(Reason.NOT_JSON, str(not_json))
    try:
        _refuse_duplicate_keys(data)
    except ProtocolError as duplicate:
        return duplicate
    if not isinstance(loose, dict):
        return ProtocolError(Reason.NOT_OBJECT, f"message is a JSON {type(loose).__name__}, not an object")
    where = _first_float(loose, "$")
    if where is not None:
        return ProtocolError(Reason.FLOAT, f"number at {where} is not an integer")
    if "type" not in loose:
        return ProtocolError(Reason.MISSING_FIELD, "message lacks type")
    kind = loose.get("type")
    cls = MESSAGE_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        return ProtocolError(Reason.UNKNOWN_TYPE, f"type {kind!r} is not a v1 message type")
    fields = {f.encode_name: f for f in msgspec.structs.fields(cls)}
    missing = sorted(name for name, f in fields.items() if f.required and name not in loose)
    if missing:
        return ProtocolError(Reason.MISSING_FIELD, f"{kind} lacks {', '.join(missing)}")
    unknown = sorted(set(loose) - set(fields) - {"type"})
    if unknown:
        return ProtocolError(Reason.UNKNOWN_FIELD, f"{kind} has no field {', '.join(unknown)}")
    text = str(error)
    if _WRONG_TYPE.match(text):
        return ProtocolError(Reason.WRONG_TYPE, text)
    return ProtocolError(Reason.INVALID_VALUE, text)


def _depth(data: bytes) -> int:
    """How deep brackets nest outside strings, counted up to one past MAX_DEPTH: a check that
    never recurses, so a hostile nesting costs a linear scan and no parser's stack."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub(b"", data)):
        depth += 1 if bracket in b"[{" else -1
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            break
    return deepest


_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(rb"[\[\]{}]")


def _first_float(value: Any, path: str) -> str | None:
    if isinstance(value, float):
        return path
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _first_float(item, f"{path}.{key}" if isinstance(key, str) else f"{path}[{key}]")
        if found is not None:
            return found
    return None

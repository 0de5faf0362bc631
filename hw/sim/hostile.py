"""Hostile messages from a device with a valid credential (issue 20): random bodies that pass
the schema of edge/protocol/messages.py, signed with the device's real key, for the fuzz
test and bench/hostile.py. Seeded, so a failure can be replayed from its seed.

The values lean on the edges the schema allows (0, ±2^53, the longest lists, names the
layout never heard of), since a well-behaved device never sends those and the gateway must
survive them all the same.
"""

import random
import string
from collections.abc import Callable
from typing import Any

import msgspec
from nacl.signing import SigningKey

from edge.protocol.envelope import MAX_MESSAGE_BYTES, seal
from edge.protocol.messages import (
    UNSTAMPED,
    Alarm,
    Health,
    Interaction,
    Message,
    Palm,
    Passage,
    Presence,
    Qr,
    Telemetry,
    Weight,
    encode_message,
)
from edge.protocol.roles import EVENT_TYPES, Role
from edge.protocol.topics import event_topic

MAX_SAFE = 2**53
MAX_LANE = 1023


def _int(rng: random.Random, low: int = -MAX_SAFE, high: int = MAX_SAFE) -> int:
    """Mostly the edges, sometimes anything between."""
    edges = [v for v in (low, high, 0, 1, -1, low + 1, high - 1) if low <= v <= high]
    return rng.choice(edges) if rng.random() < 0.5 else rng.randint(low, high)


def _name(rng: random.Random, alphabet: str = string.ascii_lowercase + string.digits + "-") -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.choice((1, 8, 64))))


def _ref(rng: random.Random) -> str:
    return _name(rng, string.ascii_letters + string.digits + "_-")


def _lanes(rng: random.Random, most: int) -> int:
    return rng.choice((0, 1, most, rng.randint(0, most)))


def _weight(rng: random.Random, shelf: str) -> Message:
    return Weight(
        **UNSTAMPED, shelf=shelf, lane=_int(rng, 0, MAX_LANE), t0=_int(rng, 0), t1=_int(rng, 0),
        delta_mg=_int(rng), before_mg=_int(rng), after_mg=_int(rng), noise_mg=_int(rng, 0),
    )  # fmt: skip


def _telemetry(rng: random.Random, shelf: str) -> Message:
    lanes = [(_int(rng, 0, MAX_LANE), _int(rng)) for _ in range(_lanes(rng, 1024))]
    return Telemetry(**UNSTAMPED, shelf=shelf, lanes=lanes)


def _interaction(rng: random.Random, shelf: str) -> Message:
    return Interaction(
        **UNSTAMPED, shelf=shelf, lanes=[_int(rng, 0, MAX_LANE) for _ in range(_lanes(rng, 1024))],
        t0=_int(rng, 0), t1=_int(rng, 0), x_mm=_int(rng), y_mm=_int(rng), conf_pm=_int(rng, 0, 1000),
        holding=rng.choice(("none", "item", "unknown")),
    )  # fmt: skip


def _presence(rng: random.Random, shelf: str) -> Message:
    people = [(_int(rng), _int(rng), _int(rng, 0, 1000)) for _ in range(_lanes(rng, 256))]
    return Presence(**UNSTAMPED, people=people)


def _passage(rng: random.Random, shelf: str) -> Message:
    return Passage(
        **UNSTAMPED, gate=_name(rng), dir=rng.choice(("in", "out")), t=_int(rng, 0),
        grant=rng.choice((None, _ref(rng))), x_mm=_int(rng), y_mm=_int(rng),
    )  # fmt: skip


def _alarm(rng: random.Random, shelf: str) -> Message:
    return Alarm(**UNSTAMPED, gate=_name(rng), kind=rng.choice(("door_forced", "door_held")), t=_int(rng, 0))


def _palm(rng: random.Random, shelf: str) -> Message:
    sealed = "".join(rng.choice(string.ascii_letters + string.digits + "+/") for _ in range(rng.choice((0, 4, 8192))))
    return Palm(
        **UNSTAMPED, req=_ref(rng), purpose=rng.choice(("entry", "enroll", "delete")), sealed=sealed,
        quality_pm=_int(rng, 0, 1000), live_pm=_int(rng, 0, 1000),
    )  # fmt: skip


def _qr(rng: random.Random, shelf: str) -> Message:
    token = "".join(rng.choice(string.ascii_letters + string.digits + "_.=-") for _ in range(rng.choice((1, 2048))))
    return Qr(**UNSTAMPED, req=_ref(rng), token=token)


def _health(rng: random.Random, shelf: str) -> Message:
    counters = {_name(rng, string.ascii_lowercase + "_"): _int(rng) for _ in range(_lanes(rng, 64))}
    if rng.random() < 0.3:
        counters["lanes_drifted"] = _int(rng)
    return Health(
        **UNSTAMPED, uptime_s=_int(rng, 0), spool=_int(rng, 0), temp_c10=_int(rng, -32768, 32767), counters=counters
    )


BODIES: dict[str, Callable[[random.Random, str], Message]] = {
    "weight": _weight,
    "telemetry": _telemetry,
    "interaction": _interaction,
    "presence": _presence,
    "passage": _passage,
    "alarm": _alarm,
    "palm": _palm,
    "qr": _qr,
    "health": _health,
}


class Stamper:
    """Headers for one hostile device: mostly what a real one would send (its boot, the next
    seq, the time now), so most bodies get past the sequence checks and reach what the
    gateway derives from them; sometimes the schema's extremes."""

    def __init__(self, node: str, boot: int, seq: int = 0) -> None:
        """`seq`: the last one used."""
        self.node = node
        self.boot = boot
        self.seq = seq

    def stamp(self, rng: random.Random, body: Message, now_ms: int) -> Message:
        self.seq += 1
        header: dict[str, Any] = {"dev": self.node, "boot": self.boot, "seq": self.seq, "ts": now_ms}
        if rng.random() < 0.02:
            header["ts"] = _int(rng, 0)
        if rng.random() < 0.005:  # a jump: the device's own later messages may be refused
            header["boot"], header["seq"] = self.boot, _int(rng, 1)
        return msgspec.structs.replace(body, **header)


def random_message(rng: random.Random, role: Role, shelves: list[str]) -> Message:
    """A schema-valid body of a type `role` may send (the header still UNSTAMPED); shelves
    mostly from `shelves` (its own, or another node's), sometimes made up."""
    kind = rng.choice(sorted(EVENT_TYPES[role] & BODIES.keys()))  # events with a body to vary
    shelf = rng.choice(shelves) if shelves and rng.random() < 0.8 else _name(rng)
    return BODIES[kind](rng, shelf)


def signed_fuzz(
    rng: random.Random,
    store: str,
    node: str,
    role: Role,
    key: SigningKey,
    shelves: list[str],
    count: int,
    now_ms: int,
    first_seq: int = 1,
) -> list[tuple[str, bytes]]:
    """`count` random messages of one device, signed with its key: (topic, payload) each,
    on the topic of the message's type, so each gets past the broker's ACL and the topic
    checks to what the gateway makes of its body. Boot 1, seq from `first_seq`."""
    stamper = Stamper(node, 1, first_seq - 1)
    signed = []
    for n in range(count):
        message = stamper.stamp(rng, random_message(rng, role, shelves), now_ms + n)
        data = encode_message(message)
        if len(data) > MAX_MESSAGE_BYTES:  # the schema allows more than the envelope carries
            data = encode_message(msgspec.structs.replace(message, **_trimmed(message)))
        signed.append((event_topic(store, node, message.type), seal(key, data)))
    return signed


def _trimmed(message: Message) -> dict[str, Any]:
    """A body's long lists cut to a size the envelope carries (1,024 lanes of ±2^53 do not fit)."""
    fields: dict[str, Any] = {}
    for name in ("lanes", "people", "sealed", "token"):
        value = getattr(message, name, None)
        if value is not None and len(value) > 512:
            fields[name] = value[:512]
    return fields

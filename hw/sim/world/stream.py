"""From what the devices make to what the gateway receives: headers, clocks, transit and
outages. Pure.

Each device stamps its messages from its own clock, which is off by a skew of its own, and
numbers them per boot. A message reaches the gateway a few milliseconds after it was made;
while a device is cut off its messages wait in its spool and arrive in order, in a burst,
when it is back, after the broker has announced it offline (its last will, about one and
a half keepalives after the cut) and it has announced itself online again. The result is
the replay contract's input (DESIGN section 6): one line per accepted message, in the order
the gateway received them.
"""

import random
from dataclasses import dataclass, field
from typing import Any

import msgspec

from edge.protocol.topics import event_topic, state_topic, upstream_in_topic
from hw.sim.world.sensors import Emitted

WILL_AFTER_MS = 22_500  # Mosquitto publishes a lost client's will after 1.5 keepalives (15 s)


@dataclass(frozen=True, slots=True)
class Line:
    topic: str
    msg: dict[str, Any]
    recv_ms: int


_encoder = msgspec.json.Encoder()


def encode_lines(lines: list[Line]) -> list[bytes]:
    """The replay contract's JSON lines, as `storegw replay` reads them."""
    return [_encoder.encode({"topic": line.topic, "msg": line.msg, "recv_ms": line.recv_ms}) for line in lines]


@dataclass(frozen=True, slots=True)
class Network:
    skew_ms: tuple[int, int] = (-250, 250)  # each device's clock error
    jitter_ms: int = 4  # how much a device's timestamps wobble about its skew
    transit_ms: tuple[int, int] = (2, 25)
    outages: list[tuple[str, int, int]] = field(default_factory=list)  # (dev, from, to): cut off


def deliver(store: str, emitted: list[Emitted], network: Network, rng: random.Random) -> list[Line]:
    by_dev: dict[str, list[Emitted]] = {}
    for item in emitted:
        by_dev.setdefault(item.dev, []).append(item)
    lines: list[tuple[int, int, Line]] = []
    order = 0
    for dev in sorted(by_dev):
        items = sorted(by_dev[dev], key=lambda e: e.at_ms)
        skew = rng.randint(*network.skew_ms) if dev != "upstream" else rng.randint(-20, 20)
        cuts = sorted((a, b) for d, a, b in network.outages if d == dev)
        booted = items[0].at_ms - 60_000 + skew
        last_recv = 0
        for a, b in cuts:
            if b - a > WILL_AFTER_MS:
                will = {"v": 1, "dev": dev, "boot": 1, "seq": 0, "ts": booted, "type": "state", "state": "offline"}
                lines.append((a + WILL_AFTER_MS, order, Line(state_topic(store, dev), will, a + WILL_AFTER_MS)))
                order += 1
            online = {"v": 1, "dev": dev, "boot": 1, "seq": 0, "ts": b + skew, "type": "state", "state": "online"}
            lines.append((b + 3, order, Line(state_topic(store, dev), online, b + 3)))
            order += 1
        for seq, item in enumerate(items, start=1):
            shift = skew + rng.randint(-network.jitter_ms, network.jitter_ms)
            msg: dict[str, Any] = {
                "v": 1,
                "dev": dev,
                "boot": 1,
                "seq": seq,
                "ts": item.at_ms + shift,
                "type": item.type,
            }
            for name, value in item.body.items():
                msg[name] = value + shift if name in item.times else value
            recv = item.at_ms + rng.randint(*network.transit_ms)
            for a, b in cuts:
                if a <= item.at_ms < b:
                    recv = b + 5
            recv = max(recv, last_recv)
            last_recv = recv
            topic = upstream_in_topic(store, item.type) if dev == "upstream" else event_topic(store, dev, item.type)
            lines.append((recv, order, Line(topic, msg, recv)))
            order += 1
    lines.sort(key=lambda entry: (entry[0], entry[1]))
    return [line for _, _, line in lines]

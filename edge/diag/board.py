"""The RP2040 shelf board as storediag reaches it, plugged straight into the technician's
laptop: its own commands (`id`, `channels`, `rate 10|80`, `selftest`) and, as `read`, a
summary of the frames it streams (edge/shelf/mcu_protocol.py)."""

import time

import serial

from edge.diag.link import NoAnswer, Refused
from edge.protocol.diag import Record
from edge.shelf.mcu_protocol import BoardFrame, BoardReply, FrameDecoder

READ_S = 1.0  # frames summed up by one `read`: 10 at 10 SPS

HELP: list[Record] = [
    {"command": "id", "args": "", "about": "the board's chip id and firmware"},
    {"command": "channels", "args": "", "about": "how many HX711 channels it reads"},
    {"command": "rate", "args": "10|80", "about": "samples per second (a node sets its own when it opens the board)"},
    {"command": "selftest", "args": "", "about": "one read of every channel"},
    {"command": "read", "args": "", "about": "a second of frames: each channel's counts and spread, the rate"},
]


class BoardLink:
    kind = "board"

    def __init__(self, port: serial.Serial, timeout_s: float, decoder: FrameDecoder | None = None) -> None:
        self.port = port
        self.timeout_s = timeout_s
        self._decoder = decoder or FrameDecoder()

    def _pump(self) -> list[BoardFrame | BoardReply]:
        return self._decoder.feed(self.port.read(max(1, self.port.in_waiting)))

    def ask(self, words: list[str]) -> list[Record]:
        if words == ["help"]:
            return HELP
        if words == ["read"]:
            return self._read()
        if not words or words[0] not in ("id", "channels", "rate", "selftest"):
            raise Refused("unknown_command", f"the shelf board has no {' '.join(words)!r}; `help` lists its commands")
        self.port.write(" ".join(words).encode() + b"\n")
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            for item in self._pump():
                if isinstance(item, BoardReply):
                    if item.text.startswith("err"):
                        raise Refused("failed", item.text)
                    return [{"answer": item.text}]
        raise NoAnswer("the board streams but did not answer")

    def _read(self) -> list[Record]:
        frames: list[BoardFrame] = []
        deadline = time.monotonic() + READ_S
        while time.monotonic() < deadline:
            frames += [item for item in self._pump() if isinstance(item, BoardFrame)]
        if not frames:
            raise NoAnswer("no frames for a second")
        dropped = sum((b.seq - a.seq - 1) % 65536 for a, b in zip(frames, frames[1:], strict=False))
        span_ms = frames[-1].board_ms - frames[0].board_ms
        rate = round((len(frames) - 1) * 1000 / span_ms) if span_ms > 0 else 0
        records: list[Record] = []
        for channel in range(len(frames[-1].counts)):
            values = [c for f in frames if len(f.counts) > channel and (c := f.counts[channel]) is not None]
            records.append(
                {
                    "channel": channel,
                    "raw": values[-1] if values else "-",
                    "spread": max(values) - min(values) if values else "-",
                    "rejected": len(frames) - len(values),
                    "sps": rate,
                    "dropped": dropped,
                }
            )
        return records

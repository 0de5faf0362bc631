"""MicroPython firmware for the RP2040 shelf board: reads N HX711 channels that share one
clock line, and streams timestamped raw counts to the Pi over USB serial, in the line
protocol of edge/shelf/mcu_protocol.py. Answers `id`, `rate 10|80`, `channels` and
`selftest`.

A chip that never becomes ready (unplugged, dead) is marked absent, so that it does not
hold back the others sharing its clock; absent channels are sent as `-` and probed again
every REPROBE frames.

Each read clocks all chips together with interrupts off and times every clock pulse: a
pulse over 50 us (the datasheet's limit; past 60 us a chip powers down) voids the read,
and the chips are then power-cycled together so that none is left mid-word. Words the
chip never produces in health (saturated, all ones) are sent as `-`.
"""

import binascii
import select
import sys
import time

import machine

SCK_PIN = 2
DOUT_PINS = (3, 4, 5, 6)
RATE_PIN = 7  # wired to every chip's RATE pin: low 10 SPS, high 80 SPS
FIRMWARE = "1"
MAX_HIGH_US = 50
READY_TIMEOUT_MS = 500
REPROBE = 100
_BAD_WORDS = (0x7FFFFF, 0x800000, 0xFFFFFF)


def seal(body: str) -> bytes:
    return f"{body}*{binascii.crc32(body.encode()):08x}\n".encode()


class Board:
    def __init__(self, sck_pin: int, dout_pins: "tuple[int, ...]", rate_pin: int) -> None:
        self.sck = machine.Pin(sck_pin, machine.Pin.OUT, value=0)
        self.douts = [machine.Pin(pin, machine.Pin.IN) for pin in dout_pins]
        self.rate_pin = machine.Pin(rate_pin, machine.Pin.OUT, value=0)
        self.rate = 10
        self.seq = 0
        self.voided = 0
        self.absent: set[int] = set()

    def wait_ready(self) -> None:
        """Wait for every present chip; those still not ready at the timeout become absent."""
        deadline = time.ticks_add(time.ticks_ms(), READY_TIMEOUT_MS)
        while True:
            waiting = [i for i, dout in enumerate(self.douts) if i not in self.absent and dout.value()]
            if not waiting:
                return
            if time.ticks_diff(time.ticks_ms(), deadline) > 0:
                self.absent.update(waiting)
                return
            time.sleep_ms(1)

    def read(self) -> "list[int | None]":
        """One word per channel, None where it cannot be trusted."""
        count = len(self.douts)
        if self.seq % REPROBE == 0:
            self.absent = set()
        self.wait_ready()
        if len(self.absent) == count:
            return [None] * count
        words: list[int] = [0] * count
        slow = False
        state = machine.disable_irq()
        for pulse in range(25):  # 24 data bits, then one pulse: channel A, gain 128 next
            started = time.ticks_us()
            self.sck.value(1)
            self.sck.value(0)
            if time.ticks_diff(time.ticks_us(), started) > MAX_HIGH_US:
                slow = True
            if pulse < 24:
                for i in range(count):
                    words[i] = (words[i] << 1) | self.douts[i].value()
        machine.enable_irq(state)
        if slow:
            self.voided += 1
            self.power_cycle()
            return [None] * count
        return [
            None if i in self.absent or w in _BAD_WORDS else (w - 0x1000000 if w & 0x800000 else w)
            for i, w in enumerate(words)
        ]

    def power_cycle(self) -> None:
        """Clock held high past 60 us: every chip powers down and resets together."""
        self.sck.value(1)
        time.sleep_us(100)
        self.sck.value(0)

    def set_rate(self, rate: int) -> None:
        """Switch every chip's rate, then reset them so that no conversion straddles the change."""
        self.rate_pin.value(1 if rate == 80 else 0)
        self.rate = rate
        self.power_cycle()

    def frame(self, counts: "list[int | None]") -> bytes:
        fields = ["S", str(self.seq % 65536), str(time.ticks_ms())]
        fields += ["-" if c is None else str(c) for c in counts]
        self.seq += 1
        return seal(",".join(fields))

    def answer(self, command: str) -> str:
        words = command.split()
        if words == ["id"]:
            return f"id rp2040 {binascii.hexlify(machine.unique_id()).decode()} fw {FIRMWARE}"
        if words == ["channels"]:
            return f"channels {len(self.douts)}"
        if len(words) == 2 and words[0] == "rate" and words[1] in ("10", "80"):
            self.set_rate(int(words[1]))
            return f"ok rate {self.rate}"
        if words == ["selftest"]:
            counts = self.read()
            bad = [i for i, c in enumerate(counts) if c is None]
            return "selftest ok" if not bad else f"selftest fail channels {bad}"
        return f"err unknown command {command}"


def main() -> None:
    board = Board(SCK_PIN, DOUT_PINS, RATE_PIN)
    out = sys.stdout.buffer  # USB CDC on the board, bytes both ways
    inp = sys.stdin.buffer
    poll = select.poll()
    poll.register(sys.stdin, select.POLLIN)
    pending = b""
    while True:
        while poll.poll(0):
            byte = inp.read(1)
            if not byte:
                return
            if byte == b"\n":
                out.write(seal("#" + board.answer(pending.decode().strip())))
                pending = b""
            elif len(pending) < 64:
                pending += byte
        out.write(board.frame(board.read()))


main()

"""A simulated `machine` module for the MicroPython unix port, so that the shelf board's
firmware (edge/mcu/main.py) runs unchanged on a PC against simulated HX711s.

This is MicroPython code (no dataclasses, enums or typing), and it follows the same
datasheet rules as hw/sim/hx711.py, for the one configuration the firmware uses: channel
A at gain 128, every chip on one shared clock. DOUT goes low when a conversion is ready;
24 pulses shift it out MSB first; the 25th ends the read; any other count is a serial
error. A clock held high for more than 60 us powers every chip down, and they reset
(settling again) when it goes low.

The bank is set up from the JSON file named by the SHELF_SIM environment variable:
{"sck": 2, "dout": [3, 4], "rate_pin": 7, "counts": [100000, -5000],
 "steps": [[t_ms, channel, delta_counts], ...], "dead": [channel, ...],
 "stall_at_read": n}   (optional: that read's 5th pulse is held high for 200 us)
Times are microseconds since the module loaded (valid for about 9 minutes: ticks wrap).
"""

import json
import os
import random
import sys
import time

_T0 = time.ticks_us()


def _now():
    return time.ticks_diff(time.ticks_us(), _T0)


class _Bank:
    def __init__(self, spec):
        self.sck_pin = spec["sck"]
        self.douts = spec["dout"]
        self.rate_pin = spec["rate_pin"]
        self.set_rate(0)
        self.counts = spec["counts"]
        self.steps = spec.get("steps", [])
        self.dead = spec.get("dead", [])
        self.stall_at = spec.get("stall_at_read", -1)
        self.reads = 0
        self.level = 0
        self.rose = 0
        self.powered = True
        self._reset(_now())

    def set_rate(self, level):
        """The RATE pins: low 10 SPS, high 80 SPS; the firmware resets the chips after a change."""
        self.period = 12_500 if level else 100_000
        self.settling = 50_000 if level else 400_000

    def _reset(self, t):
        self.epoch = t + self.settling
        self.consumed = -1
        self.pulses = 0
        self.latched_index = -1
        self.latched = [0] * len(self.douts)

    def _latest(self, t):
        return -1 if t < self.epoch else (t - self.epoch) // self.period

    def _value(self, channel, t_us):
        value = self.counts[channel]
        for at_ms, ch, delta in self.steps:
            if ch == channel and t_us >= at_ms * 1000:
                value += delta
        return (value + random.getrandbits(5) - 16) & 0xFFFFFF

    def _settle(self, t):
        if self.pulses and t >= self.epoch + (self.latched_index + 1) * self.period:
            self.consumed = self.latched_index
            self.pulses = 0

    def clock(self, level):
        t = _now()
        if self.level and self.powered and t - self.rose > 60:
            self.powered = False
        if level == self.level:
            return
        self.level = level
        if level:
            self.rose = t
            if not self.powered:
                return
            self._settle(t)
            if self.pulses == 0:
                latest = self._latest(t)
                if latest <= self.consumed:
                    return
                self.latched_index = latest
                ready = self.epoch + latest * self.period
                self.latched = [self._value(ch, ready) for ch in range(len(self.douts))]
                self.reads += 1
            self.pulses += 1
            if self.reads == self.stall_at and self.pulses == 5:
                time.sleep_us(200)
        elif not self.powered:
            self.powered = True
            self._reset(t)

    def dout(self, pin):
        channel = self.douts.index(pin)
        if channel in self.dead:
            return 1
        t = _now()
        if self.level and self.powered and t - self.rose > 60:
            self.powered = False
        if not self.powered:
            return 1
        self._settle(t)
        if self.pulses:
            if self.pulses > 24:
                return 1
            return (self.latched[channel] >> (24 - self.pulses)) & 1
        return 0 if self._latest(t) > self.consumed else 1


def _load(path):
    with open(path) as spec:
        return _Bank(json.load(spec))


_spec_path = os.getenv("SHELF_SIM")
_bank = _load(_spec_path) if _spec_path else None


class Pin:
    IN = 0
    OUT = 1

    def __init__(self, pin_id, mode=IN, value=None):
        self.id = pin_id
        self.mode = mode
        self._level = 0
        if value is not None:
            self.value(value)

    def value(self, level=None):
        if level is None:
            if _bank is not None and self.id in _bank.douts:
                return _bank.dout(self.id)
            return self._level
        self._level = 1 if level else 0
        if _bank is not None and self.id == _bank.sck_pin:
            _bank.clock(self._level)
        elif _bank is not None and self.id == _bank.rate_pin:
            _bank.set_rate(self._level)
        return None

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)


def disable_irq():
    return 0


def enable_irq(state):
    return None


# The exit status by which the REPL stand-in (hw/sim/raw_repl_board.py) knows a hard reset.
RESET_EXIT = 77


def reset():
    """A hard reset: the unix port leaves, and whoever runs it boots the board again."""
    sys.exit(RESET_EXIT)


def unique_id():
    return b"\xe6\x61\x4c\x00\x0b\x53\x21\x2a"

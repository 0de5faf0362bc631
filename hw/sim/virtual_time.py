"""Time that passes only when the simulation says so, for drivers that time their own pulses.

A driver that bit-bangs a chip (the `hx711` package) and the simulated chip both read this
clock: each GPIO call takes `gpio_call_ns`, a sleep takes exactly its length, and nothing else
moves it. The pair then behave as on an unloaded Pi, the same on any machine; preemption is a
fault a test injects (`SimBoard.hold_clock_high`), not something the host's load decides.
"""

from dataclasses import dataclass

# A GPIO write or read from Python on a Pi 4 takes about a microsecond.
GPIO_CALL_NS = 1_000


@dataclass
class VirtualTime:
    """Stands in for the `time` module where a driver uses `perf_counter` and `sleep`."""

    ns: int = 0
    gpio_call_ns: int = GPIO_CALL_NS

    def perf_counter_ns(self) -> int:
        return self.ns

    def perf_counter(self) -> float:
        return self.ns / 1e9

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        self.ns += round(seconds * 1e9)

    def gpio_call(self) -> None:
        self.ns += self.gpio_call_ns

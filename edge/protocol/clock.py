"""The wire's time unit: milliseconds since the Unix epoch, as every `ts`, `t0` and `t1` carries."""

import time


def wall_ms() -> int:
    return time.time_ns() // 1_000_000

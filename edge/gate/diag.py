"""The gate's console commands: `read` (pins and the turnstile now), `relay test` (service
mode: one pulse of the barrier) and `palm selftest` (the encoder on its reference palm).

The relay test is handed to the gate's own loop like any other input, so it never races a
shopper's grant; the console then watches the relay pin itself and reports how long the
barrier was actually released.
"""

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import TYPE_CHECKING

from edge.gate.palm import PalmEncoder
from edge.gate.palm_selftest import self_test
from edge.gate.turnstile import energised
from edge.protocol.diag import DiagError, ErrorCode, Record, encode_record
from edge.runtime.diag import DiagCommand, no_args

if TYPE_CHECKING:
    from edge.gate.app import GateApp

SETTLE_S = 1.0  # how long past the pulse the relay may take to move, as the loop sees it


@dataclass(frozen=True, slots=True)
class RelayTest:
    """The console's request for a test pulse; the loop answers whether the gate took it."""

    taken: "Future[bool]"


def _wait_for(predicate: Callable[[], bool], timeout_s: float) -> float | None:
    """When (monotonic) the relay reached the level asked for, or None."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(0.005)
    return None


def gate_commands(app: "GateApp") -> list[DiagCommand]:
    config, pins = app.config, app.io.pins
    released_level = energised(True, config.fail_mode)

    def read(args: list[str]) -> list[Record]:
        no_args(args, "read")
        qr = app.io.qr
        return [
            {
                "turnstile": app.turnstile.phase.value,
                "barrier": "released" if pins.relay_energised == released_level else "locked",
                "relay": "energised" if pins.relay_energised else "off",
                "outer": "blocked" if pins.active("outer") else "clear",
                "inner": "blocked" if pins.active("inner") else "clear",
                "fire": "alarm" if pins.active("fire") else "normal",
                "qr": "none" if qr is None else "ok" if qr.connected else "missing",
                "palm": "sim" if app.io.lane is not None else "none",
            }
        ]

    def relay_test(args: list[str]) -> Iterator[Record]:
        no_args(args, "relay test")
        taken: Future[bool] = Future()
        app.inbox.put(RelayTest(taken))
        try:
            accepted = taken.result(timeout=2)
        except FutureTimeout:
            if taken.cancel():  # withdrawn: the loop will not pulse the barrier later, unwatched
                raise DiagError(ErrorCode.UNAVAILABLE, "the gate's loop did not take the test; see `log`") from None
            accepted = taken.result()
        if not accepted:
            raise DiagError(ErrorCode.FAILED, f"the gate is {app.turnstile.phase.value}: it must be idle")
        yield {"pulse_ms": config.pulse_ms, "watching": "the relay pin"}
        released = _wait_for(lambda: pins.relay_energised == released_level, SETTLE_S)
        if released is None:
            raise DiagError(ErrorCode.FAILED, "the relay pin never moved to release the barrier")
        locked = _wait_for(lambda: pins.relay_energised != released_level, config.pulse_ms / 1000 + SETTLE_S)
        if locked is None:
            raise DiagError(ErrorCode.FAILED, "the relay did not return to locked after the pulse")
        yield {"relay": "pulsed", "released_ms": round((locked - released) * 1000), "barrier": "locked"}

    encoder = PalmEncoder()

    def palm_selftest(args: list[str]) -> list[Record]:
        no_args(args, "palm selftest")
        started = time.perf_counter()
        result = self_test(encoder, config.min_quality_pm, config.min_live_pm)
        took = round((time.perf_counter() - started) * 1000)
        record: Record = {
            "selftest": "pass" if result.passed else "fail",
            "quality_pm": result.quality_pm,
            "live_pm": result.live_pm,
            "repeatable": "yes" if result.repeatable else "no",
            "print_live_pm": result.print_live_pm,
            "took_ms": took,
            "sensor": "sim" if app.io.lane is not None else "none (this gate takes QR codes only)",
        }
        if not result.passed:
            raise DiagError(ErrorCode.FAILED, f"palm selftest failed: {encode_record(record)}")
        return [record]

    return [
        DiagCommand("read", "", "the relay, beams and fire input, and the turnstile's state", read),
        DiagCommand("relay test", "", "release the barrier for one pulse (idle gate only)", relay_test, changes=True),
        DiagCommand("palm selftest", "", "the palm encoder on its reference palm, and a printed copy", palm_selftest),
    ]

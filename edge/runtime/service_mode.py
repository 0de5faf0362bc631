"""Service mode of the diagnostics console: what lets a technician change a node (tare,
calibrate, relay test, reboot). Pure: the caller supplies the clock and persists `failures`.

The node's service PIN (8 digits, one per device, made by provisioning) is stored on the
node only as an Argon2id hash. Wrong PINs are rate-limited: the first FREE_ATTEMPTS in a
row cost nothing more than the hash's own ~0.1 s, every further one locks the console for
twice as long as the one before, from LOCK_MS up to MAX_LOCK_MS. The count of wrong PINs
in a row survives restarts (`record` keeps it, before each PIN is checked), and a node
that starts with the console locked stays locked for the full period from its start, so
pulling the power does not buy attempts. Service mode ends after IDLE_MS without a command,
after SILENCE_MS in which the console received no request and no bare newline (line noise
does not count), on `service end`, or when the console's port goes away (a USB gadget port
can). A UART cannot tell a cable pulled: the
silence is how a node finds out, so storediag's shell sends a bare newline while the
technician types nothing.
"""

from collections.abc import Callable
from dataclasses import dataclass

import nacl.exceptions
from nacl.pwhash import argon2id

from edge.protocol.diag import DiagError, ErrorCode

PIN_DIGITS = 8
FREE_ATTEMPTS = 3
LOCK_MS = 30_000
MAX_LOCK_MS = 3_600_000
IDLE_MS = 600_000
# Held in service mode, a shelf sends no weight changes: a pulled cable must not hold them
# back for long. storediag's shell sends a newline every KEEPALIVE_S (edge/diag/shell.py).
SILENCE_MS = 60_000


def hash_pin(pin: str) -> bytes:
    """The Argon2id hash a node keeps of its PIN (libsodium's interactive limits: ~0.1 s, 64 MiB)."""
    if not is_pin(pin):
        raise ValueError(f"a service PIN is {PIN_DIGITS} digits")
    return argon2id.str(pin.encode(), opslimit=argon2id.OPSLIMIT_INTERACTIVE, memlimit=argon2id.MEMLIMIT_INTERACTIVE)


def pin_matches(stored: bytes, pin: str) -> bool:
    try:
        return bool(argon2id.verify(stored, pin.encode()))
    except (nacl.exceptions.InvalidkeyError, nacl.exceptions.CryptoError, ValueError):
        return False


def is_pin(pin: str) -> bool:
    return len(pin) == PIN_DIGITS and pin.isascii() and pin.isdigit()


def lock_ms(failures: int) -> int:
    """How long the console stays locked after `failures` wrong PINs in a row."""
    if failures < FREE_ATTEMPTS:
        return 0
    return min(MAX_LOCK_MS, LOCK_MS << min(failures - FREE_ATTEMPTS, 16))


def _forget(failures: int) -> None:
    """Where nothing keeps the count (tests, a node without a state directory)."""


@dataclass
class ServiceMode:
    check_pin: Callable[[str], bool] | None  # None: this node has no PIN, so no service mode
    failures: int = 0  # wrong PINs in a row
    # Keeps `failures`; called with the count an attempt would make wrong *before* the PIN is
    # checked, so that pulling the power on seeing `wrong_pin` never saves an attempt.
    record: Callable[[int], None] = _forget
    _locked_until: int = 0
    _active_until: int | None = None
    _heard_until: int = 0

    def started(self, now_ms: int) -> None:
        """The console starts: a lock earned before the restart runs again in full."""
        self._locked_until = now_ms + lock_ms(self.failures)
        self._active_until = None

    def enter(self, pin: str, now_ms: int) -> None:
        if self.check_pin is None:
            raise DiagError(ErrorCode.UNAVAILABLE, "this node has no service PIN; see `storeprov service-pin`")
        if now_ms < self._locked_until:
            wait_s = -(-(self._locked_until - now_ms) // 1000)
            raise DiagError(ErrorCode.LOCKED_OUT, f"too many wrong PINs; try again in {wait_s} s")
        self.record(self.failures + 1)
        if not (is_pin(pin) and self.check_pin(pin)):
            self.failures += 1
            self._locked_until = now_ms + lock_ms(self.failures)
            self._active_until = None
            locked = f"; locked for {lock_ms(self.failures) // 1000} s" if lock_ms(self.failures) else ""
            raise DiagError(ErrorCode.WRONG_PIN, f"wrong PIN ({self.failures} in a row{locked})")
        self.failures = 0
        self.record(0)
        self._active_until = now_ms + IDLE_MS
        self._heard_until = now_ms + SILENCE_MS

    def active(self, now_ms: int) -> bool:
        until = self._active_until  # once: the console's thread may end it meanwhile
        return until is not None and now_ms < min(until, self._heard_until)

    def heard(self, now_ms: int) -> None:
        """A request or a bare newline came in on the console (never noise). Heard after the silence ran out,
        it revives nothing: the cable may be on another laptop by then."""
        if self.active(now_ms):
            self._heard_until = now_ms + SILENCE_MS

    def used(self, now_ms: int) -> None:
        """A command was run: the idle timeout starts again."""
        if self.active(now_ms):
            self._active_until = now_ms + IDLE_MS
            self._heard_until = now_ms + SILENCE_MS

    def leave(self) -> None:
        self._active_until = None

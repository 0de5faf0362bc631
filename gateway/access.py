"""Who may pass the gates: palm requests waiting for upstream's decision, QR tokens checked
offline, grants, and the session a granted passage opens. Pure: accepted messages and the
time in, outputs out; the service persists, signs and sends them, in order.

A palm request waits `decision_timeout_ms` for its decision, and is denied at once while
the store's bridge to upstream is down. A QR token is checked with upstream's public key
and its nonce kept until the token expires, so a second use is refused as `replayed`; the
service writes a `TokenUsed` to disk before it sends the `open` that follows it. A grant
lets one passage in: the `passage in` carrying its req opens the session named in the
`open`, which is derived from the req and so holds nothing of the account.
"""

from dataclasses import dataclass, field
from typing import Final

from nacl.signing import VerifyKey

from edge.protocol.messages import UNSTAMPED, AnyMessage, Decision, Deny, Open, Palm, Passage, Qr
from edge.protocol.qr_token import QrRefused, verify

OPEN_TTL_MS: Final = 2_000  # how long an `open` stays good: it crosses the broker in milliseconds
DENY_TTL_MS: Final = 2_000
GRANT_KEPT_MS: Final = 60_000  # a grant nobody walked through is forgotten after this


@dataclass(frozen=True, slots=True)
class Send:
    """A command for a gate."""

    command: Open | Deny


@dataclass(frozen=True, slots=True)
class TokenUsed:
    """A QR nonce to remember (on disk, before the `open`) until the token expires."""

    nonce: bytes
    expires_ms: int


@dataclass(frozen=True, slots=True)
class Granted:
    req: str
    gate: str
    session: str
    account: str
    via: str  # "palm" or "qr"
    at_ms: int


@dataclass(frozen=True, slots=True)
class SessionOpened:
    session: str
    account: str
    gate: str
    at_ms: int


Output = Send | TokenUsed | Granted | SessionOpened


@dataclass(slots=True)
class _Waiting:
    gate: str
    deadline_ms: int


@dataclass
class AccessControl:
    qr_key: VerifyKey
    decision_timeout_ms: int
    upstream: bool = True  # False: no upstream configured, or its bridge is down
    used_tokens: dict[bytes, int] = field(default_factory=dict)  # nonce: expires_ms
    _waiting: dict[str, _Waiting] = field(default_factory=dict)  # palm req: its gate
    _grants: dict[str, Granted] = field(default_factory=dict)  # req: grant not yet walked through

    def apply(self, message: AnyMessage, now_ms: int) -> list[Output]:
        match message:
            case Palm(purpose="entry"):
                return self._palm(message, now_ms)
            case Qr():
                return self._qr(message, now_ms)
            case Decision():
                return self._decision(message, now_ms)
            case Passage(dir="in", grant=str(req)):
                return self._passage(message, req)
        return []

    def link(self, up: bool) -> list[Output]:
        """The bridge to upstream came up or went down; going down denies every waiting palm."""
        self.upstream = up
        if up:
            return []
        waiting, self._waiting = self._waiting, {}
        return [_deny(w.gate, req, "upstream_unreachable") for req, w in waiting.items()]

    def expire(self, now_ms: int) -> list[Output]:
        """Deny the palms whose decision is overdue."""
        overdue = [req for req, w in self._waiting.items() if w.deadline_ms <= now_ms]
        return [_deny(self._waiting.pop(req).gate, req, "upstream_timeout") for req in overdue]

    def next_deadline(self) -> int | None:
        """When the next waiting palm is due for `expire`; None when none waits."""
        return min((w.deadline_ms for w in self._waiting.values()), default=None)

    def forget(self, now_ms: int) -> None:
        """Drop the nonces of expired tokens and grants nobody walked through."""
        self.used_tokens = {n: t for n, t in self.used_tokens.items() if t > now_ms}
        self._grants = {r: g for r, g in self._grants.items() if g.at_ms + GRANT_KEPT_MS > now_ms}

    def _palm(self, palm: Palm, now_ms: int) -> list[Output]:
        if not self.upstream:
            return [_deny(palm.dev, palm.req, "upstream_unreachable")]
        self._waiting[palm.req] = _Waiting(palm.dev, now_ms + self.decision_timeout_ms)
        return []

    def _qr(self, qr: Qr, now_ms: int) -> list[Output]:
        try:
            claims = verify(qr.token, self.qr_key, now_ms)
        except QrRefused as refused:
            return [_deny(qr.dev, qr.req, refused.reason)]
        if claims.purpose != "entry":
            return [_deny(qr.dev, qr.req, "wrong_purpose")]
        if claims.nonce in self.used_tokens:
            return [_deny(qr.dev, qr.req, "replayed")]
        self.used_tokens[claims.nonce] = claims.expires_ms
        return [TokenUsed(claims.nonce, claims.expires_ms), *self._grant(qr.dev, qr.req, claims.account, "qr", now_ms)]

    def _decision(self, decision: Decision, now_ms: int) -> list[Output]:
        waiting = self._waiting.pop(decision.req, None)
        if waiting is None:
            return []  # late, duplicated, or for an enrolment: no gate is waiting on it
        if decision.result == "match" and decision.account is not None:
            return self._grant(waiting.gate, decision.req, decision.account, "palm", now_ms)
        reason = "not_recognised" if decision.result == "nomatch" else "upstream_error"
        return [_deny(waiting.gate, decision.req, reason)]

    def _grant(self, gate: str, req: str, account: str, via: str, now_ms: int) -> list[Output]:
        session = f"s-{req}"
        grant = Granted(req, gate, session, account, via, now_ms)
        self._grants[req] = grant
        return [grant, Send(Open(**UNSTAMPED, node=gate, req=req, session=session, ttl_ms=OPEN_TTL_MS))]

    def _passage(self, passage: Passage, req: str) -> list[Output]:
        grant = self._grants.get(req)
        if grant is None or grant.gate != passage.dev:
            return []
        del self._grants[req]
        return [SessionOpened(grant.session, grant.account, grant.gate, passage.t)]


def _deny(gate: str, req: str, reason: str) -> Send:
    return Send(Deny(**UNSTAMPED, node=gate, req=req, reason=reason, ttl_ms=DENY_TTL_MS))

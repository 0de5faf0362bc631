"""gateway/access.py: palm requests, decisions, timeouts, the link to upstream, QR tokens and
grants, as pure outputs."""

import secrets

import pytest
from nacl.signing import SigningKey

from edge.protocol.messages import UNSTAMPED, Decision, Deny, Open, Palm, Passage, Qr
from edge.protocol.qr_token import QrClaims, issue
from gateway.access import AccessControl, Granted, Send, SessionOpened, TokenUsed

UPSTREAM = SigningKey.generate()
NOW = 1_700_000_000_000


def control(**kwargs: object) -> AccessControl:
    return AccessControl(UPSTREAM.verify_key, 2_500, **kwargs)  # type: ignore[arg-type]


def palm(req: str = "r-palm", gate: str = "gate-01", purpose: str = "entry") -> Palm:
    return Palm(**{**UNSTAMPED, "dev": gate}, req=req, purpose=purpose, sealed="AAAA", quality_pm=800, live_pm=900)  # type: ignore[arg-type]


def decision(req: str = "r-palm", result: str = "match", account: str | None = "acct-1") -> Decision:
    return Decision(**{**UNSTAMPED, "dev": "upstream"}, req=req, result=result, account=account, score_pm=800)  # type: ignore[arg-type]


def qr(token: str, req: str = "r-qr") -> Qr:
    return Qr(**{**UNSTAMPED, "dev": "gate-01"}, req=req, token=token)


def token(purpose: str = "entry", key: SigningKey = UPSTREAM, expires_ms: int = NOW + 60_000) -> str:
    return issue(QrClaims("acct-9", purpose, NOW - 1_000, expires_ms, secrets.token_bytes(16)), key)  # type: ignore[arg-type]


def passage(grant: str | None, gate: str = "gate-01", direction: str = "in") -> Passage:
    return Passage(**{**UNSTAMPED, "dev": gate}, gate=gate, dir=direction, t=NOW + 900, grant=grant, x_mm=0, y_mm=0)  # type: ignore[arg-type]


def commands(outputs: list[object]) -> list[Open | Deny]:
    return [o.command for o in outputs if isinstance(o, Send)]


def test_a_matched_palm_opens_its_gate_and_the_passage_opens_the_session() -> None:
    access = control()
    assert access.apply(palm(), NOW) == []
    assert access.next_deadline() == NOW + 2_500
    outputs = access.apply(decision(), NOW + 300)
    granted = [o for o in outputs if isinstance(o, Granted)]
    assert granted == [Granted("r-palm", "gate-01", "s-r-palm", "acct-1", "palm", NOW + 300)]
    (command,) = commands(outputs)
    assert isinstance(command, Open) and (command.node, command.req, command.session) == (
        "gate-01",
        "r-palm",
        "s-r-palm",
    )
    assert access.apply(passage("r-palm", gate="gate-02"), NOW + 900) == []  # another gate's passage
    assert access.apply(passage("r-palm"), NOW + 900) == [SessionOpened("s-r-palm", "acct-1", "gate-01", NOW + 900)]
    assert access.apply(passage("r-palm"), NOW + 950) == []  # one grant, one passage
    assert access.apply(decision(), NOW + 400) == []  # a duplicated decision opens nothing


@pytest.mark.parametrize(
    ("result", "account", "reason"), [("nomatch", None, "not_recognised"), ("error", None, "upstream_error")]
)
def test_a_palm_upstream_does_not_match_is_denied(result: str, account: str | None, reason: str) -> None:
    access = control()
    access.apply(palm(), NOW)
    (command,) = commands(access.apply(decision(result=result, account=account), NOW + 200))
    assert isinstance(command, Deny) and (command.node, command.req, command.reason) == ("gate-01", "r-palm", reason)


def test_no_decision_in_time_is_a_deny_and_a_late_one_changes_nothing() -> None:
    access = control()
    access.apply(palm(), NOW)
    assert access.expire(NOW + 2_499) == []
    (command,) = commands(access.expire(NOW + 2_500))
    assert isinstance(command, Deny) and command.reason == "upstream_timeout"
    assert access.apply(decision(), NOW + 3_000) == [] and access.next_deadline() is None


def test_with_the_link_down_palms_are_denied_at_once_and_waiting_ones_released() -> None:
    access = control()
    access.apply(palm("r-1"), NOW)
    (waiting,) = commands(access.link(False))
    assert isinstance(waiting, Deny) and (waiting.req, waiting.reason) == ("r-1", "upstream_unreachable")
    (refused,) = commands(access.apply(palm("r-2"), NOW + 10))
    assert isinstance(refused, Deny) and (refused.req, refused.reason) == ("r-2", "upstream_unreachable")
    access.link(True)
    assert access.apply(palm("r-3"), NOW + 20) == []
    assert commands(control(upstream=False).apply(palm(), NOW))[0].reason == "upstream_unreachable"  # type: ignore[union-attr]


def test_enrolment_palms_wait_for_nothing() -> None:
    access = control()
    assert access.apply(palm(purpose="enroll"), NOW) == [] and access.next_deadline() is None
    assert access.apply(decision(), NOW + 100) == []


def test_a_valid_token_opens_once_and_its_nonce_is_kept_until_it_expires() -> None:
    access = control()
    good = token(expires_ms=NOW + 60_000)
    outputs = access.apply(qr(good), NOW)
    assert isinstance(outputs[0], TokenUsed) and outputs[0].expires_ms == NOW + 60_000
    assert isinstance(outputs[1], Granted) and (outputs[1].account, outputs[1].via) == ("acct-9", "qr")
    (command,) = commands(outputs)
    assert isinstance(command, Open) and command.req == "r-qr"
    (again,) = commands(access.apply(qr(good, "r-qr2"), NOW + 5_000))
    assert isinstance(again, Deny) and again.reason == "replayed"
    access.forget(NOW + 60_000)
    assert access.used_tokens == {}


def test_nonces_from_disk_are_refused_after_a_restart() -> None:
    first = control()
    good = token()
    used = next(o for o in first.apply(qr(good), NOW) if isinstance(o, TokenUsed))
    restarted = control(used_tokens={used.nonce: used.expires_ms})
    (command,) = commands(restarted.apply(qr(good), NOW + 1_000))
    assert isinstance(command, Deny) and command.reason == "replayed"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: token(key=SigningKey.generate()), "forged"),
        (lambda: token(expires_ms=NOW - 1), "expired"),
        (lambda: "not-a-token", "garbled"),
        (lambda: token(purpose="enroll"), "wrong_purpose"),
    ],
)
def test_a_bad_token_is_denied_under_its_reason(make: object, reason: str) -> None:
    access = control()
    outputs = access.apply(qr(make()), NOW)  # type: ignore[operator]
    (command,) = commands(outputs)
    assert isinstance(command, Deny) and command.reason == reason
    assert access.used_tokens == {} and len(outputs) == 1


def test_an_ungranted_or_outward_passage_opens_nothing_and_stale_grants_are_forgotten() -> None:
    access = control()
    access.apply(qr(token()), NOW)
    assert access.apply(passage(None), NOW + 100) == []
    assert access.apply(passage("r-qr", direction="out"), NOW + 100) == []
    access.forget(NOW + 61_000)
    assert access.apply(passage("r-qr"), NOW + 61_500) == []

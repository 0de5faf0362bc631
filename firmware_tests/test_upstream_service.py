"""upstream/service.py: entry, enrolment and deletion decided for forwarded palms, every
decision signed; receipts kept once; and the service on its own Mosquitto, reached as a
store's bridge is."""

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from nacl.public import PrivateKey
from nacl.signing import SigningKey

from edge.gate.palm import PalmEncoder
from edge.protocol.clock import wall_ms
from edge.protocol.envelope import open_envelope, seal
from edge.protocol.keys import load_public_key, load_signing_key, public_path
from edge.protocol.messages import Decision, Palm, Receipt, decode_message, encode_message
from edge.protocol.palm_template import PalmTemplate
from edge.protocol.sealed import PalmPayload
from edge.protocol.sealed import seal as seal_palm
from edge.protocol.topics import upstream_in_topic, upstream_out_topic
from firmware_tests.conftest import wait_until
from firmware_tests.mqtt_client import TestClient
from hw.sim.broker import UpstreamMosquitto, find_mosquitto, free_port
from hw.sim.palm import capture, identity
from upstream.config import load_upstream_config
from upstream.home import UpstreamHome
from upstream.provision import add_store, init_upstream
from upstream.service import DAY_MS, Upstream, UpstreamService
from upstream.tokens import app_token

ENCODER = PalmEncoder()
GATE_KEY = SigningKey.generate()


def captures(seed: int, first: int, count: int) -> list[PalmTemplate]:
    return [ENCODER.encode(capture(identity(seed), 100 * seed + c)).template for c in range(first, first + count)]


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000_000

    def __call__(self) -> int:
        return self.now


def home_at(tmp_path: Path, port: int = 1884) -> UpstreamHome:
    home = UpstreamHome(tmp_path / "upstream")
    init_upstream(home, "127.0.0.1", port)
    add_store(home, "s1")
    return home


def start(home: UpstreamHome, clock: Clock) -> Upstream:
    config, base = load_upstream_config(home.config)
    return Upstream(config, base, clock)


def token(
    home: UpstreamHome, clock: Clock, account: str, purpose: str = "enroll", key: SigningKey | None = None
) -> str:
    return app_token(key or load_signing_key(home.sign_key), account, purpose, clock.now, 300_000)  # type: ignore[arg-type]


def palm_event(
    home: UpstreamHome,
    templates: list[PalmTemplate],
    purpose: str = "entry",
    tok: str | None = None,
    live_pm: int = 900,
    seal_to: PrivateKey | None = None,
) -> tuple[str, bytes, str]:
    """(topic, payload, req) of a palm as the gateway forwards it."""
    upstream_key = seal_to.public_key if seal_to else load_public_key(public_path(home.seal_key))
    req = secrets.token_urlsafe(12)
    message = Palm(
        v=1, dev="gate-01", boot=1, seq=1, ts=1, req=req, purpose=purpose,  # type: ignore[arg-type]
        sealed=seal_palm(PalmPayload([t.to_bytes() for t in templates], tok), upstream_key),
        quality_pm=800, live_pm=live_pm,
    )  # fmt: skip
    return upstream_out_topic("s1", "palm"), seal(GATE_KEY, encode_message(message)), req


def decided(home: UpstreamHome, answer: tuple[str, bytes] | None) -> Decision:
    assert answer is not None
    topic, payload = answer
    assert topic == upstream_in_topic("s1", "decision")
    decision = decode_message(open_envelope(load_signing_key(home.sign_key).verify_key, payload))
    assert isinstance(decision, Decision)
    return decision


def test_enrol_then_enter_and_a_stranger_is_not_recognised(tmp_path: Path) -> None:
    home, clock = home_at(tmp_path), Clock()
    upstream = start(home, clock)
    topic, payload, req = palm_event(home, captures(41, 0, 3), "enroll", token(home, clock, "acct-41"))
    enrolled = decided(home, upstream.handle(topic, payload))
    assert (enrolled.req, enrolled.result, enrolled.account, enrolled.dev) == (req, "match", "acct-41", "upstream")
    topic, payload, req = palm_event(home, captures(41, 5, 1))
    entry = decided(home, upstream.handle(topic, payload))
    assert (entry.req, entry.result, entry.account) == (req, "match", "acct-41")
    assert entry.score_pm > 770 and entry.seq == enrolled.seq + 1
    topic, payload, req = palm_event(home, captures(42, 5, 1))
    stranger = decided(home, upstream.handle(topic, payload))
    assert (stranger.req, stranger.result, stranger.account) == (req, "nomatch", None)
    consents = upstream.vault.consents()
    assert [(c[0], c[3], c[4]) for c in consents] == [("acct-41", "s1", "gate-01")]


@pytest.mark.parametrize("case", ["no_token", "entry_token", "forged", "expired", "reused", "two_palms", "taken"])
def test_an_enrolment_without_valid_consent_or_of_an_enrolled_palm_is_refused(tmp_path: Path, case: str) -> None:
    home, clock = home_at(tmp_path), Clock()
    upstream = start(home, clock)
    first = token(home, clock, "acct-1")
    upstream.handle(*palm_event(home, captures(51, 0, 3), "enroll", first)[:2])
    assert upstream.vault.counts() == (1, 1)
    templates, tok = captures(52, 0, 3), token(home, clock, "acct-2")
    if case == "no_token":
        tok = None
    elif case == "entry_token":
        tok = token(home, clock, "acct-2", "entry")
    elif case == "forged":
        tok = token(home, clock, "acct-2", key=SigningKey.generate())
    elif case == "expired":
        clock.now += 301_000
    elif case == "reused":
        tok = first
    elif case == "two_palms":
        templates = captures(52, 0, 2) + captures(53, 0, 1)
    elif case == "taken":
        templates = captures(51, 3, 3)
    refused = decided(home, upstream.handle(*palm_event(home, templates, "enroll", tok)[:2]))
    assert (refused.result, refused.account, refused.score_pm) == ("error", None, 0)
    assert upstream.vault.counts() == (1, 1)


def test_a_palm_sealed_to_another_key_or_not_live_is_never_matched(tmp_path: Path) -> None:
    home, clock = home_at(tmp_path), Clock()
    upstream = start(home, clock)
    upstream.handle(*palm_event(home, captures(61, 0, 3), "enroll", token(home, clock, "acct-61"))[:2])
    probe = captures(61, 5, 1)
    wrong = decided(home, upstream.handle(*palm_event(home, probe, seal_to=PrivateKey.generate())[:2]))
    assert (wrong.result, wrong.account) == ("error", None)
    dead = decided(home, upstream.handle(*palm_event(home, probe, live_pm=100)[:2]))
    assert (dead.result, dead.account) == ("nomatch", None)


def test_anything_but_a_palm_on_out_is_dropped_unanswered(tmp_path: Path) -> None:
    home, clock = home_at(tmp_path), Clock()
    upstream = start(home, clock)
    assert upstream.handle(upstream_out_topic("s1", "palm"), b"\x00" * 64 + b"{not json") is None
    _, payload, _ = palm_event(home, captures(61, 0, 1))
    assert upstream.handle("store/s1/node/gate-01/event/palm", payload) is None


def test_a_gateways_receipt_is_kept_once_per_session_and_not_answered(tmp_path: Path) -> None:
    home, clock = home_at(tmp_path), Clock()
    upstream = start(home, clock)
    receipt = Receipt(
        v=1, dev="gateway", boot=1, seq=4, ts=5_000, session="s-q1", account="acct-7",
        lines=[("cola-can", 2), ("apple", 1)], opened_ms=1_000, closed_ms=3_000, review=True,
    )  # fmt: skip
    payload = seal(GATE_KEY, encode_message(receipt))
    assert upstream.handle(upstream_out_topic("s1", "receipt"), payload) is None
    assert upstream.handle(upstream_out_topic("s1", "receipt"), payload) is None  # redelivered
    (kept,) = upstream.receipts.receipts("s1")
    assert (kept.session, kept.account, kept.lines, kept.review, kept.final_ms) == (
        "s-q1", "acct-7", [("cola-can", 2), ("apple", 1)], True, 5_000,
    )  # fmt: skip
    assert upstream.receipts.receipts("s2") == []


def test_deletion_by_palm_and_purging_after_the_configured_days(tmp_path: Path) -> None:
    home, clock = home_at(tmp_path), Clock()
    upstream = start(home, clock)
    for seed in (71, 72):
        upstream.handle(*palm_event(home, captures(seed, 0, 3), "enroll", token(home, clock, f"acct-{seed}"))[:2])
    deleted = decided(home, upstream.handle(*palm_event(home, captures(71, 5, 1), "delete")[:2]))
    assert (deleted.result, deleted.account) == ("match", "acct-71")
    gone = decided(home, upstream.handle(*palm_event(home, captures(71, 6, 1))[:2]))
    assert gone.result == "nomatch"
    clock.now += 364 * DAY_MS
    assert upstream.purge() == []
    clock.now += 2 * DAY_MS
    assert upstream.purge() == ["acct-72"]
    assert decided(home, upstream.handle(*palm_event(home, captures(72, 5, 1))[:2])).result == "nomatch"
    assert upstream.vault.counts() == (0, 0)


def test_a_restart_keeps_enrolments_and_starts_a_new_boot(tmp_path: Path) -> None:
    home, clock = home_at(tmp_path), Clock()
    first = start(home, clock)
    enrolled = decided(
        home, first.handle(*palm_event(home, captures(81, 0, 3), "enroll", token(home, clock, "acct-81"))[:2])
    )
    first.close()
    second = start(home, clock)
    entry = decided(home, second.handle(*palm_event(home, captures(81, 5, 1))[:2]))
    assert (entry.result, entry.account) == ("match", "acct-81")
    assert (entry.boot, entry.seq) == (enrolled.boot + 1, 1)


@pytest.fixture
def upstream_broker(tmp_path: Path) -> Iterator[tuple[UpstreamHome, int]]:
    binary = find_mosquitto()
    if binary is None:
        raise RuntimeError("Mosquitto is not installed; `make test` installs it (apt-get install mosquitto)")
    port = free_port()
    home = home_at(tmp_path, port)
    add_store(home, "s2")
    broker = UpstreamMosquitto(home, port, binary).start()
    yield home, port
    broker.stop()


def test_the_service_answers_a_store_on_its_own_broker_and_stores_cannot_reach_each_other(
    upstream_broker: tuple[UpstreamHome, int],
) -> None:
    home, port = upstream_broker
    clock = Clock()
    config, base = load_upstream_config(home.config)
    service = UpstreamService(Upstream(config, base), base)
    service.start()
    store = TestClient.as_file_user(port, "store-s1", home.kit("s1").bridge_password, "store-s1")
    other = TestClient.as_file_user(port, "store-s2", home.kit("s2").bridge_password, "store-s2")
    try:
        store.subscribe("store/+/upstream/in/#")
        other.subscribe("store/+/upstream/in/#")
        clock.now = wall_ms()
        topic, payload, req = palm_event(home, captures(91, 0, 3), "enroll", token(home, clock, "acct-91"))
        store.publish(topic, payload)
        wait_until(lambda: len(store.messages) == 1, 20, "the enrolment decision")
        decision = decided(home, (store.messages[0].topic, bytes(store.messages[0].payload)))
        assert (decision.req, decision.result, decision.account) == (req, "match", "acct-91")
        # s2's credential may not publish on s1's out/, so upstream never answers it
        other.publish(*palm_event(home, captures(91, 5, 1))[:2])
        topic, payload, req = palm_event(home, captures(91, 6, 1))
        store.publish(topic, payload)
        wait_until(lambda: len(store.messages) == 2, 20, "the entry decision")
        entry = decided(home, (store.messages[1].topic, bytes(store.messages[1].payload)))
        assert (entry.req, entry.result) == (req, "match")
        assert other.messages == [] and len(store.messages) == 2
    finally:
        store.close()
        other.close()
        service.stop()

"""Simulated shoppers' accounts at the reference upstream: each enrolled with three
captures of their own synthetic palm, through the same sealed `enroll` path and consent
check a real enrolment takes."""

import secrets

from nacl.signing import SigningKey

from edge.gate.palm import PalmEncoder
from edge.protocol.clock import wall_ms
from edge.protocol.envelope import SIGNATURE_BYTES, seal
from edge.protocol.keys import load_public_key, load_signing_key, public_path
from edge.protocol.messages import Decision, Palm, decode_message, encode_message
from edge.protocol.qr_token import Purpose
from edge.protocol.sealed import PalmPayload
from edge.protocol.sealed import seal as seal_palm
from edge.protocol.topics import upstream_out_topic
from hw.sim.palm import capture, identity
from upstream.config import load_upstream_config
from upstream.home import UpstreamHome
from upstream.service import Upstream
from upstream.tokens import app_token

ENROL_CAPTURES = 3
RETAKES = 3
KIOSK = "enrol-kiosk"


def token(home: UpstreamHome, account: str, purpose: Purpose = "entry", ttl_ms: int = 300_000) -> str:
    """An app token for `account`, as the shopper's phone would show it."""
    return app_token(load_signing_key(home.sign_key), account, purpose, wall_ms(), ttl_ms)


def enrol_shoppers(home: UpstreamHome, store: str, palms: dict[str, int]) -> None:
    """Enrol each account's palm (an identity seed) before upstream's service starts."""
    config, base = load_upstream_config(home.config)
    upstream = Upstream(config, base)
    encoder = PalmEncoder()
    kiosk_key = SigningKey.generate()  # a kiosk's own key; upstream does not check it (upstream/service.py)
    seal_to = load_public_key(public_path(home.seal_key))
    try:
        for account, seed in palms.items():
            # A kiosk takes three new captures when an enrolment is refused (one capture too
            # unlike the others), as a shopper would be asked to.
            for attempt in range(RETAKES):
                first = 10_000 + attempt * ENROL_CAPTURES
                captures = [capture(identity(seed), first + n) for n in range(ENROL_CAPTURES)]
                templates = [encoder.encode(roi).template.to_bytes() for roi in captures]
                payload = PalmPayload(templates, token(home, account, "enroll"))
                palm = Palm(
                    v=1, dev=KIOSK, boot=1, seq=1, ts=wall_ms(), req=secrets.token_urlsafe(12), purpose="enroll",
                    sealed=seal_palm(payload, seal_to), quality_pm=900, live_pm=900,
                )  # fmt: skip
                answer = upstream.handle(upstream_out_topic(store, "palm"), seal(kiosk_key, encode_message(palm)))
                assert answer is not None
                decision = decode_message(answer[1][SIGNATURE_BYTES:])
                if isinstance(decision, Decision) and decision.result == "match":
                    break
            else:
                raise RuntimeError(f"enrolling {account} was refused {RETAKES} times")
    finally:
        upstream.close()

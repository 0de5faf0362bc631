"""The reference upstream service: palm entry, enrolment and deletion for every linked store,
and the stores' receipts, over upstream's own broker.

A store's gateway forwards each `palm` event as it was received to `store/{s}/upstream/out/palm`;
the store's bridge carries it here. The answer is a `decision` signed with upstream's key on
`store/{s}/upstream/in/decision`, which the bridge carries back down. Which store a palm
came from is the topic's, and only that store's bridge credential may publish there.

A gateway's `receipt` arrives on `store/{s}/upstream/out/receipt` and is kept once per
session (upstream.receipts).

The gate's signature on a forwarded palm, and the gateway's on a receipt, are not checked
here: upstream holds no store's device registry. What protects a palm on this side is the
seal (only this service opens it) and the bridge credential (also all that vouches for a
receipt); what protects the store is the signature on every decision.
Messages are acknowledged after they are answered, so a crash answers them again: a
duplicate entry decision is ignored by the gateway, and an enrolment token counts once.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import paho.mqtt.client as mqtt

from edge.protocol.clock import wall_ms
from edge.protocol.configfile import read_password, resolve
from edge.protocol.envelope import SIGNATURE_BYTES, seal
from edge.protocol.errors import ProtocolError
from edge.protocol.keys import load_box, load_sealing_key, load_signing_key
from edge.protocol.messages import Decision, Palm, Receipt, decode_message, encode_message
from edge.protocol.palm_template import PalmTemplate
from edge.protocol.qr_token import QrRefused, verify
from edge.protocol.sealed import PalmPayload, SealError, unseal
from edge.protocol.session import persistent_client
from edge.protocol.topics import Kind, parse_topic, upstream_in_topic
from edge.runtime.bootstate import BootStateFile
from upstream.config import UpstreamConfig
from upstream.identity import Identities
from upstream.palm_enrol import EnrolmentRefused, enrol
from upstream.receipts import ReceiptBook
from upstream.vault import Consent, Enrolment, Vault

log = logging.getLogger(__name__)

PALM_SUBSCRIPTION: Final = "store/+/upstream/out/palm"
RECEIPT_SUBSCRIPTION: Final = "store/+/upstream/out/receipt"
DAY_MS: Final = 86_400_000
PURGE_EVERY_S: Final = 3600


@dataclass(frozen=True, slots=True)
class _Answer:
    result: Literal["match", "nomatch", "error"]
    account: str | None
    score_pm: int


class Upstream:
    """What upstream decides about one forwarded palm; the MQTT link is `UpstreamService`."""

    def __init__(self, config: UpstreamConfig, base: Path, clock: Callable[[], int] = wall_ms) -> None:
        self.config = config
        self._clock = clock
        self._sign = load_signing_key(resolve(base, config.keys.sign))
        self._open = load_sealing_key(resolve(base, config.keys.seal))
        self.vault = Vault(resolve(base, config.vault), load_box(resolve(base, config.keys.vault)))
        self.identities = Identities(self.vault.enrolments())
        self.receipts = ReceiptBook(resolve(base, config.receipts))
        self.boot = BootStateFile(resolve(base, config.state_dir) / "boot.json").next_boot().boot
        self._seq = 0
        self._lock = threading.Lock()

    def close(self) -> None:
        self.vault.close()
        self.receipts.close()

    def handle(self, topic: str, payload: bytes) -> tuple[str, bytes] | None:
        """The signed decision for a forwarded palm as (topic, payload); None for a receipt (kept,
        nothing to answer) and for anything else (dropped)."""
        try:
            where = parse_topic(topic)
            message = decode_message(payload[SIGNATURE_BYTES:])
        except ProtocolError as error:
            log.warning("dropped a message on %s: %s", topic, error.detail)
            return None
        if where.kind is Kind.UPSTREAM_OUT and isinstance(message, Receipt):
            with self._lock:
                new = self.receipts.record(where.store, message, self._clock())
            log.info(
                "receipt %s from %s: %d lines%s%s", message.session, where.store, len(message.lines),
                ", for review" * message.review, "" if new else " (again; kept once)",
            )  # fmt: skip
            return None
        if where.kind is not Kind.UPSTREAM_OUT or not isinstance(message, Palm):
            log.warning("dropped a %s on %s: only palm events and receipts are taken", message.type, topic)
            return None
        with self._lock:
            decision = self._decide(where.store, message)
            self._seq += 1
            stamped = Decision(
                v=1,
                dev=self.config.id,
                boot=self.boot,
                seq=self._seq,
                ts=self._clock(),
                req=message.req,
                result=decision.result,
                account=decision.account,
                score_pm=decision.score_pm,
            )
        log.info("%s %s from %s/%s: %s", message.purpose, message.req, where.store, message.dev, decision.result)
        return upstream_in_topic(where.store, "decision"), seal(self._sign, encode_message(stamped))

    def _decide(self, store: str, palm: Palm) -> _Answer:
        policy = self.config.palm
        if palm.live_pm < policy.min_live_pm or palm.quality_pm < policy.min_quality_pm:
            log.warning("palm %s refused: quality %d, liveness %d", palm.req, palm.quality_pm, palm.live_pm)
            return _Answer("nomatch", None, 0)
        try:
            payload = unseal(palm.sealed, self._open)
            templates = [PalmTemplate.from_bytes(raw) for raw in payload.templates]
        except (SealError, ValueError) as error:
            log.warning("palm %s from %s does not open: %s", palm.req, palm.dev, error)
            return _Answer("error", None, 0)
        if palm.purpose == "enroll":
            return self._enrol(store, palm, payload, templates)
        candidate = self.identities.nearest(templates[0])
        if candidate is None or candidate.distance * 1000 >= policy.match_below_pm:
            return _Answer("nomatch", None, candidate.score_pm if candidate else 0)
        now = self._clock()
        if palm.purpose == "delete":
            removed = self.vault.delete_account(candidate.account, now)
            self.identities.remove({candidate.account})
            log.info("deleted %d templates of an account on request at %s/%s", removed, store, palm.dev)
        else:
            self.vault.used(candidate.enrolment_id, now)
        return _Answer("match", candidate.account, candidate.score_pm)

    def _enrol(self, store: str, palm: Palm, payload: PalmPayload, templates: list[PalmTemplate]) -> _Answer:
        now = self._clock()
        try:
            if payload.token is None:
                raise EnrolmentRefused("no enrolment token: consent is not on record")
            claims = verify(payload.token, self._sign.verify_key, now)
            if claims.purpose != "enroll":
                raise EnrolmentRefused(f"a {claims.purpose} token does not allow enrolment")
            if self.vault.consent_known(claims.nonce):
                raise EnrolmentRefused("this enrolment token has been used")
            template = enrol(templates)
            holder = self.identities.nearest(template)
            if (
                holder is not None
                and holder.account != claims.account
                and holder.distance * 1000 < (self.config.palm.match_below_pm)
            ):
                raise EnrolmentRefused("this palm is enrolled to another account")
        except (EnrolmentRefused, QrRefused) as refused:
            log.warning("enrolment %s at %s/%s refused: %s", palm.req, store, palm.dev, refused)
            return _Answer("error", None, 0)
        consent = Consent(claims.nonce, claims.account, claims.issued_ms, store, palm.dev)
        enrolment_id = self.vault.enrol(template, consent, now)
        self.identities.add(Enrolment(enrolment_id, claims.account, template))
        return _Answer("match", claims.account, 1000)

    def purge(self) -> list[str]:
        """Delete enrolments unused for `purge_after_days`; the accounts they belonged to."""
        now = self._clock()
        with self._lock:
            accounts = self.vault.purge(now - self.config.palm.purge_after_days * DAY_MS, now)
            self.identities.remove(set(accounts))
        if accounts:
            log.info("purged the unused enrolments of %d accounts", len(accounts))
        return accounts


class UpstreamService:
    """`Upstream` on its broker: a persistent session, each palm acknowledged once answered."""

    def __init__(self, upstream: Upstream, base: Path) -> None:
        config = upstream.config
        self.upstream = upstream
        self._stop = threading.Event()
        self._client = persistent_client(config.id, config.broker, read_password(base, config.broker.password_file))
        self._client.on_connect = self._connected
        self._client.on_message = self._arrived
        self._purger = threading.Thread(target=self._purge_daily, name="purge", daemon=True)

    def start(self) -> None:
        broker = self.upstream.config.broker
        self._client.connect_async(broker.host, broker.port, broker.keepalive_s)
        self._client.loop_start()
        self._purger.start()

    def stop(self) -> None:
        self._stop.set()
        self._client.disconnect()
        self._client.loop_stop()
        self.upstream.close()

    def _connected(self, client: mqtt.Client, userdata: object, flags: object, reason: object, props: object) -> None:
        if getattr(reason, "is_failure", False):
            log.error("upstream's broker refused the service: %s", reason)
            return
        client.subscribe(PALM_SUBSCRIPTION, qos=1)
        client.subscribe(RECEIPT_SUBSCRIPTION, qos=1)
        log.info("upstream %s connected; %d enrolments", self.upstream.config.id, len(self.upstream.identities))

    def _arrived(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        try:
            answer = self.upstream.handle(message.topic, bytes(message.payload))
        except Exception:
            # Left unacknowledged: the broker delivers it again after a reconnect.
            log.exception("failed on a palm from %s", message.topic)
            return
        if answer is not None:
            client.publish(*answer, qos=1)
        client.ack(message.mid, message.qos)

    def _purge_daily(self) -> None:
        while True:
            self.upstream.purge()
            if self._stop.wait(PURGE_EVERY_S):
                return

"""Why a message was refused: one reason per distinct failure, counted by the receiver."""

from enum import StrEnum


class Reason(StrEnum):
    BAD_TOPIC = "bad_topic"
    UNKNOWN_DEVICE = "unknown_device"
    ROLE_FORBIDDEN = "role_forbidden"
    OVERSIZE = "oversize"
    BAD_SIGNATURE = "bad_signature"
    NOT_JSON = "not_json"
    NOT_OBJECT = "not_object"
    TOO_DEEP = "too_deep"
    DUPLICATE_KEY = "duplicate_key"
    FLOAT = "float"
    UNKNOWN_TYPE = "unknown_type"
    MISSING_FIELD = "missing_field"
    UNKNOWN_FIELD = "unknown_field"
    WRONG_TYPE = "wrong_type"
    INVALID_VALUE = "invalid_value"
    HEADER_MISMATCH = "header_mismatch"
    NOT_ASSIGNED = "not_assigned"
    BOOT_JUMP = "boot_jump"
    SEQ_JUMP = "seq_jump"
    TS_AHEAD = "ts_ahead"
    REPLAY = "replay"
    RETAINED = "retained"
    STALE = "stale"
    BOOT_REUSED = "boot_reused"
    INTERNAL_ERROR = "internal_error"


class ProtocolError(Exception):
    """A message that breaks the wire contract. `reason` is what gets counted."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail

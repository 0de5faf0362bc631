"""Broker credentials: random passwords and Mosquitto 2.x password-file hashes
(`$7$` = PBKDF2-HMAC-SHA512, the format `mosquitto_passwd` writes)."""

import base64
import hashlib
import hmac
import os
import secrets

ITERATIONS = 101
SALT_BYTES = 12


def new_password() -> str:
    return secrets.token_urlsafe(24)


def mosquitto_hash(password: str, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else os.urandom(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS, 64)
    return f"$7${ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def matches(password: str, stored: str) -> bool:
    try:
        _, algorithm, iterations, salt, digest = stored.split("$")
        if algorithm != "7":
            return False
        raw = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(salt), int(iterations), 64)
    except ValueError:
        return False
    return hmac.compare_digest(base64.b64encode(raw), digest.encode())

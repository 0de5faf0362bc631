"""gateway/provisioning/passwords.py: Mosquitto `$7$` (PBKDF2-HMAC-SHA512) password hashes."""

import base64
import re

import pytest

from gateway.provisioning.passwords import ITERATIONS, SALT_BYTES, matches, mosquitto_hash, new_password

MOSQUITTO_VECTOR = (
    "$7$101$yOMVDG6GAZV/FH8K$EGB6LWHvq2LA5JYWsWP4ssaZTkhp55sko5JXDuqOWocUCBq2WN2xU9kGSn7TT/1PXF//1dQVYc9aOOnAoxLo6g=="
)
FORMAT = re.compile(r"^\$7\$101\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$")


def test_matches_the_vector_mosquitto_passwd_wrote() -> None:
    assert matches("secret", MOSQUITTO_VECTOR)


@pytest.mark.parametrize("wrong", ["Secret", "secret ", "", "secre", "secret\n"])
def test_wrong_password_does_not_match_the_vector(wrong: str) -> None:
    assert not matches(wrong, MOSQUITTO_VECTOR)


def test_round_trip() -> None:
    password = new_password()
    stored = mosquitto_hash(password)
    assert matches(password, stored)
    assert not matches(password + "x", stored)


def test_round_trip_non_ascii_password() -> None:
    assert matches("pässwörd-✓", mosquitto_hash("pässwörd-✓"))


def test_format() -> None:
    found = FORMAT.match(mosquitto_hash("secret"))
    assert found is not None
    salt, digest = (base64.b64decode(part, validate=True) for part in found.groups())
    assert len(salt) == SALT_BYTES == 12
    assert len(digest) == 64
    assert ITERATIONS == 101


def test_given_salt_reproduces_the_vector() -> None:
    salt = base64.b64decode("yOMVDG6GAZV/FH8K")
    assert mosquitto_hash("secret", salt) == MOSQUITTO_VECTOR


def test_salts_are_random() -> None:
    assert mosquitto_hash("same") != mosquitto_hash("same")


def test_new_passwords_are_long_and_distinct() -> None:
    passwords = {new_password() for _ in range(50)}
    assert len(passwords) == 50
    assert all(len(p) >= 32 and re.fullmatch(r"[A-Za-z0-9_-]+", p) for p in passwords)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "secret",
        "$7$101$onlysalt",
        "$6$101$yOMVDG6GAZV/FH8K$EGB6LWHvq2LA5JYWsWP4ssaZTkhp55sko5JXDuqOWocUCBq2WN2xU9kGSn7TT/1PXF//1dQVYc9aOOnAoxLo6g==",
        "$7$abc$yOMVDG6GAZV/FH8K$EGB6LWHvq2LA5JYWsWP4ssaZTkhp55sko5JXDuqOWocUCBq2WN2xU9kGSn7TT/1PXF//1dQVYc9aOOnAoxLo6g==",
        "$7$0$yOMVDG6GAZV/FH8K$EGB6LWHvq2LA5JYWsWP4ssaZTkhp55sko5JXDuqOWocUCBq2WN2xU9kGSn7TT/1PXF//1dQVYc9aOOnAoxLo6g==",
        "$7$101$yOMVDG6GAZV/FH8$EGB6LWHvq2LA5JYWsWP4ssaZTkhp55sko5JXDuqOWocUCBq2WN2xU9kGSn7TT/1PXF//1dQVYc9aOOnAoxLo6g==",
        "$7$101$yOMVDG6GAZV/FH8K$",
        "$7$101$yOMVDG6GAZV/FH8K$EGB6LWHvq2LA5JYWsWP4ssaZTkhp55sko5JXDuqOWocUCBq2WN2xU9kGSn7TT/1PXF//1dQVYc9aOOnAoxLo6g",
        "$7$101$yOMVDG6GAZV/FH8K$EGB6LWHvq2LA5JYWsWP4ssaZTkhp55sko5JXDuqOWocUCBq2WN2xU9kGSn7TT/1PXF//1dQVYc9aOOnAoxLo6g==$",
        "$7$101$yOMVDG6GAZV/FH8Ké$EGB6LWHvq2LA5JYWsWP4ssaZTkhp55sko5JXDuqOWocUCBq2WN2xU9kGSn7TT/1PXF//1dQVYc9aOOnAoxLo6g==",
        "$7$101$yOMVDG6GAZV/FH8K$EGB6LWHvq2LA5JYWsWP4ssaZTkhp55sko5JXDuqOWocUCBq2WN2xU9kGSn7TT/1PXF//1dQVYc9aOOnAoxLo6é==",
    ],
)
def test_malformed_hash_does_not_match(stored: str) -> None:
    assert matches("secret", stored) is False

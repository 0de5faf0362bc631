"""Key files: generation with safe modes, loading with strict checks, fingerprints, sealing keys."""

import base64
import hashlib
import os
import re
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.signing import SigningKey, VerifyKey

from edge.protocol.keys import (
    KeyFileError,
    decode_key,
    encode_key,
    fingerprint,
    generate_sealing_key,
    generate_signing_key,
    load_public_bytes,
    load_public_key,
    load_sealing_key,
    load_signing_key,
    load_verify_key,
    public_path,
    write_public,
    write_secret_file,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """Run with umask 0 so that file modes come from the code, not from the environment."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def test_generated_signing_key_modes(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "keys" / "device.key"
    generate_signing_key(path)
    assert mode(path) == 0o600
    assert mode(public_path(path)) == 0o600
    assert mode(path.parent) == 0o700
    assert public_path(path) == tmp_path / "keys" / "device.key.pub"
    assert sorted(p.name for p in path.parent.iterdir()) == ["device.key", "device.key.pub"]


def test_generated_sealing_key_modes(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "seal.key"
    generate_sealing_key(path)
    assert mode(path) == 0o600
    assert mode(public_path(path)) == 0o600


def test_signing_key_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "device.key"
    verify_key = generate_signing_key(path)
    assert isinstance(verify_key, VerifyKey)
    loaded = load_signing_key(path)
    assert loaded.verify_key == verify_key
    assert load_verify_key(public_path(path)) == verify_key
    assert load_public_bytes(public_path(path)) == bytes(verify_key)
    signed = loaded.sign(b"hello")
    assert load_verify_key(public_path(path)).verify(signed) == b"hello"


def test_private_key_never_leaves_the_private_file(tmp_path: Path) -> None:
    path = tmp_path / "device.key"
    verify_key = generate_signing_key(path)
    secret_text = path.read_text().strip()
    seed = bytes(load_signing_key(path))
    assert base64.b64decode(secret_text) == seed
    returned = [repr(verify_key), str(verify_key), bytes(verify_key).hex(), encode_key(bytes(verify_key))]
    assert all(secret_text not in text and seed.hex() not in text for text in returned)
    assert seed not in bytes(verify_key)
    public_text = public_path(path).read_text()
    assert secret_text not in public_text
    assert seed not in public_path(path).read_bytes()
    assert public_text.strip() == encode_key(bytes(verify_key))


def test_private_sealing_key_never_leaves_the_private_file(tmp_path: Path) -> None:
    path = tmp_path / "seal.key"
    public_key = generate_sealing_key(path)
    secret_text = path.read_text().strip()
    assert secret_text not in repr(public_key)
    assert secret_text not in encode_key(bytes(public_key))
    assert secret_text not in public_path(path).read_text()


def test_private_key_file_is_one_base64_line(tmp_path: Path) -> None:
    path = tmp_path / "device.key"
    generate_signing_key(path)
    text = path.read_text()
    assert text.endswith("\n") and text.count("\n") == 1
    assert len(base64.b64decode(text.strip(), validate=True)) == 32


def test_fingerprint_format() -> None:
    raw = bytes(SigningKey.generate().verify_key)
    value = fingerprint(raw)
    assert re.fullmatch(r"SHA256:[A-Za-z0-9+/]{43}", value)
    assert value == "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")
    assert fingerprint(raw) == value
    assert fingerprint(bytes(SigningKey.generate().verify_key)) != value


def test_loading_a_private_key_open_to_others_names_chmod(tmp_path: Path) -> None:
    path = tmp_path / "device.key"
    generate_signing_key(path)
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError) as caught:
        load_signing_key(path)
    message = str(caught.value)
    assert "chmod 600" in message
    assert str(path) in message
    assert "0644" in message


@pytest.mark.parametrize("loose", [0o640, 0o604, 0o610, 0o601, 0o620, 0o602])
def test_any_group_or_other_bit_is_refused(tmp_path: Path, loose: int) -> None:
    path = tmp_path / "seal.key"
    generate_sealing_key(path)
    os.chmod(path, loose)
    with pytest.raises(KeyFileError, match="chmod"):
        load_sealing_key(path)


def test_owner_only_modes_load(tmp_path: Path) -> None:
    path = tmp_path / "device.key"
    verify_key = generate_signing_key(path)
    os.chmod(path, 0o400)
    assert load_signing_key(path).verify_key == verify_key


def test_public_key_mode_is_not_checked(tmp_path: Path) -> None:
    path = tmp_path / "device.key"
    verify_key = generate_signing_key(path)
    os.chmod(public_path(path), 0o666)
    assert load_verify_key(public_path(path)) == verify_key


@pytest.mark.parametrize("private", [True, False])
def test_missing_file(tmp_path: Path, private: bool) -> None:
    path = tmp_path / "absent.key"
    with pytest.raises(KeyFileError) as caught:
        if private:
            load_signing_key(path)
        else:
            load_verify_key(path)
    assert "does not exist" in str(caught.value)
    assert str(path) in str(caught.value)
    assert ("private" if private else "public") in str(caught.value)


@pytest.mark.parametrize("private", [True, False])
def test_directory_instead_of_a_file(tmp_path: Path, private: bool) -> None:
    path = tmp_path / "keydir"
    path.mkdir(mode=0o700)
    os.chmod(path, 0o700)
    with pytest.raises(KeyFileError) as caught:
        if private:
            load_signing_key(path)
        else:
            load_public_key(path)
    assert "is a directory" in str(caught.value)
    assert "chmod" not in str(caught.value)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("text", ["not base64 at all!", "AAAA*AAA", "\u00e9t\u00e9"])
def test_non_base64(tmp_path: Path, text: str) -> None:
    path = tmp_path / "device.key"
    write_secret_file(path, text)
    with pytest.raises(KeyFileError) as caught:
        load_signing_key(path)
    assert "is not base64" in str(caught.value)
    assert str(path) in str(caught.value)
    assert text not in str(caught.value)


def test_non_utf8_key_file(tmp_path: Path) -> None:
    path = tmp_path / "device.pub"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(KeyFileError, match="cannot be read"):
        load_public_bytes(path)


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
def test_wrong_length(tmp_path: Path, size: int) -> None:
    path = tmp_path / "device.key"
    write_secret_file(path, base64.b64encode(os.urandom(size)).decode())
    with pytest.raises(KeyFileError) as caught:
        load_signing_key(path)
    assert f"holds {size} bytes" in str(caught.value)
    assert "32" in str(caught.value)


def test_wrong_length_public(tmp_path: Path) -> None:
    path = tmp_path / "gateway.pub"
    write_public(path, os.urandom(31))
    with pytest.raises(KeyFileError, match="holds 31 bytes"):
        load_verify_key(path)


def test_decode_key_tolerates_surrounding_whitespace() -> None:
    raw = os.urandom(32)
    assert decode_key(f"  {encode_key(raw)}\n\n", "key") == raw


@pytest.mark.parametrize("generate", [generate_signing_key, generate_sealing_key])
def test_generate_refuses_to_overwrite(tmp_path: Path, generate: Callable[..., object]) -> None:
    path = tmp_path / "k.key"
    generate(path)
    before = (path.read_bytes(), public_path(path).read_bytes())
    with pytest.raises(KeyFileError, match="exists"):
        generate(path)
    assert (path.read_bytes(), public_path(path).read_bytes()) == before
    generate(path, overwrite=True)
    after = (path.read_bytes(), public_path(path).read_bytes())
    assert after[0] != before[0] and after[1] != before[1]
    assert mode(path) == 0o600


def test_overwritten_key_pairs_match(tmp_path: Path) -> None:
    path = tmp_path / "device.key"
    generate_signing_key(path)
    fresh = generate_signing_key(path, overwrite=True)
    assert load_signing_key(path).verify_key == fresh
    assert load_verify_key(public_path(path)) == fresh


def test_write_secret_file_creates_0600(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "nested" / "dir" / "secret"
    write_secret_file(path, "hunter2")
    assert mode(path) == 0o600
    assert path.read_text() == "hunter2\n"
    assert not path.with_name("secret.tmp").exists()


def test_write_secret_file_tightens_a_replaced_file(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "secret"
    path.write_text("old")
    os.chmod(path, 0o666)
    write_secret_file(path, "new")
    assert mode(path) == 0o600
    assert path.read_text() == "new\n"


def test_write_secret_file_ignores_a_stale_tmp(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "secret"
    stale = tmp_path / "secret.tmp"
    stale.write_text("left by a crash")
    os.chmod(stale, 0o666)
    write_secret_file(path, "fresh")
    assert path.read_text() == "fresh\n"
    assert mode(path) == 0o600
    assert not stale.exists()


def test_write_secret_file_refuses_to_overwrite_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    write_secret_file(path, "first")
    with pytest.raises(KeyFileError):
        write_secret_file(path, "second", overwrite=False)
    assert path.read_text() == "first\n"


def test_sealing_key_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "upstream-seal.key"
    public_key = generate_sealing_key(path)
    assert isinstance(public_key, PublicKey)
    loaded_public = load_public_key(public_path(path))
    assert loaded_public == public_key
    private = load_sealing_key(path)
    assert isinstance(private, PrivateKey)
    assert private.public_key == public_key
    sealed = SealedBox(loaded_public).encrypt(b"palm template")
    assert SealedBox(private).decrypt(sealed) == b"palm template"


def test_sealing_key_from_another_file_cannot_open(tmp_path: Path) -> None:
    public_key = generate_sealing_key(tmp_path / "a.key")
    generate_sealing_key(tmp_path / "b.key")
    sealed = SealedBox(public_key).encrypt(b"template")
    with pytest.raises(CryptoError):
        SealedBox(load_sealing_key(tmp_path / "b.key")).decrypt(sealed)

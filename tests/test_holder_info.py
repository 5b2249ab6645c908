"""Holders' personal information encrypted for the issuer (app/pure/holder_info.py): the round
trip, the blob's format, and every way a blob can be foreign or altered. Pure."""

import base64
import json
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.pure import holder_info
from app.pure.holder_info import HolderInfo, decrypt, encrypt_for_issuer

INFO = HolderInfo(name="山田 太郎", address="東京都千代田区丸の内1-1-1", contact="taro@example.jp")


@cache
def rsa_pair(bits: int = 2048, n: int = 0) -> tuple[str, str]:
    """(private PEM, public PEM) of a fresh RSA key, one per (bits, n) for the whole run."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return private, holder_info.public_pem(key.public_key())


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_round_trip_and_format() -> None:
    private, public = rsa_pair()
    blob = encrypt_for_issuer(public, INFO)
    fields = json.loads(blob)
    assert list(fields) == ["alg", "ct", "ek", "iv", "v"]
    assert blob == json.dumps(fields, sort_keys=True, separators=(",", ":"))
    assert (fields["v"], fields["alg"]) == (1, "RSA-OAEP-256+A256GCM")
    assert len(unb64(fields["ek"])) == 256  # one RSA-2048 block
    assert len(unb64(fields["iv"])) == 12
    assert "=" not in blob and "山田" not in blob and "taro" not in blob  # no clear text
    assert decrypt(private, blob) == INFO
    assert decrypt(private.encode(), blob) == INFO
    # A fresh key and nonce each time: the same record never gives the same blob.
    assert encrypt_for_issuer(public, INFO) != blob


def test_a_4096_bit_key_and_pkcs1_private_keys_work() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    pkcs1 = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    blob = encrypt_for_issuer(holder_info.public_pem(key.public_key()), INFO)
    assert decrypt(pkcs1, blob) == INFO


def _altered(change: Callable[[dict[str, Any]], None]) -> str:
    fields = json.loads(encrypt_for_issuer(rsa_pair()[1], INFO))
    change(fields)
    return json.dumps(fields)


def _flip(field: str) -> Callable[[dict[str, Any]], None]:
    def change(fields: dict[str, Any]) -> None:
        data = bytearray(unb64(fields[field]))
        data[len(data) // 2] ^= 1
        fields[field] = b64(bytes(data))

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_flip("ct"), "authentication failed"),
        (_flip("iv"), "authentication failed"),
        (_flip("ek"), "this key does not open it"),
        (lambda f: f.update(v=2), "version 2"),
        (lambda f: f.update(alg="RSA1_5+A256GCM"), "algorithm 'RSA1_5\\+A256GCM'"),
        (lambda f: f.update(ct=f["ct"][:-4]), "authentication failed"),
        (lambda f: f.update(iv=b64(bytes(16))), "'iv' is 16 bytes"),
        (lambda f: f.update(ek="not base64!"), "'ek' must be base64url"),
        (lambda f: f.pop("ct"), "'ct' must be base64url"),
    ],
)
def test_an_altered_blob_is_refused(change: Callable[[dict[str, Any]], None], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decrypt(rsa_pair()[0], _altered(change))


def test_a_blob_for_another_issuer_is_refused() -> None:
    blob = encrypt_for_issuer(rsa_pair(2048, 1)[1], INFO)
    with pytest.raises(ValueError, match="encrypted for another issuer key"):
        decrypt(rsa_pair()[0], blob)


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        ("", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ("ciphertext", "not JSON"),
        ('{"v": 1}', "algorithm None"),
    ],
)
def test_what_is_not_a_blob_is_refused(blob: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decrypt(rsa_pair()[0], blob)


def test_keys_outside_the_scheme_are_refused() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(ValueError, match="RSA key of 1024 bits: 2048 to 8192 required"):
        encrypt_for_issuer(holder_info.public_pem(small.public_key()), INFO)
    curve = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = curve.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(ValueError, match="not an RSA key"):
        holder_info.public_key(pem)
    with pytest.raises(ValueError, match="not a PEM public key"):
        holder_info.public_key("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    with pytest.raises(ValueError, match="not an unencrypted PEM private key"):
        decrypt(rsa_pair()[1], "{}")  # a public key where the private one belongs


def test_the_record_is_checked_both_ways() -> None:
    with pytest.raises(ValueError, match="'name' must be a non-empty string"):
        HolderInfo(name=" ", address="a", contact="c")
    with pytest.raises(ValueError, match="'address' is longer than 400 characters"):
        HolderInfo(name="n", address="x" * 401, contact="c")


def test_fingerprint_names_the_key() -> None:
    private, public = rsa_pair()
    key = holder_info.public_key(public)
    assert holder_info.fingerprint(key) == holder_info.fingerprint(
        holder_info.private_key(private).public_key()
    )
    assert holder_info.fingerprint(key) != holder_info.fingerprint(
        holder_info.public_key(rsa_pair(2048, 1)[1])
    )
    assert len(holder_info.fingerprint(key)) == 64

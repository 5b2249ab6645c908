"""Holders' personal information encrypted for the issuer: the blob a holder registers in
PersonalInfo (name, address and contact; never clear text on chain), and its decryption with
the issuer's private key. Pure: no I/O, no app imports.

Hybrid encryption (docs/bond-token.md, "Holders' personal information"): a fresh AES-256-GCM
key encrypts the record; RSA-OAEP (SHA-256, MGF1-SHA-256) wraps that key for the issuer's
RSA public key (2048 to 8192 bits). The blob is compact JSON (keys sorted, no whitespace)::

    {"alg":"RSA-OAEP-256+A256GCM","ct":b64,"ek":b64,"iv":b64,"v":1}

``ek`` the wrapped key, ``iv`` the 12-byte GCM nonce, ``ct`` the ciphertext with its 16-byte
tag, each base64url without padding (RFC 4648 section 5, as JOSE writes them). The version and
the algorithm are the GCM additional data, so changing either is detected like a changed
ciphertext. The plaintext is the record as UTF-8 JSON, keys sorted:
``{"address":…,"contact":…,"name":…}``.
"""

import base64
import binascii
import hashlib
import json
import os
import re
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = 1
ALG = "RSA-OAEP-256+A256GCM"
MIN_KEY_BITS = 2048
MAX_KEY_BITS = 8192
# Field limits keep a registration a few hundred bytes of calldata.
MAX_LENGTHS = {"name": 200, "address": 400, "contact": 200}
_AAD = json.dumps({"alg": ALG, "v": VERSION}, sort_keys=True, separators=(",", ":")).encode()
_OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


@dataclass(frozen=True)
class HolderInfo:
    """What the issuer keeps about a holder for the bondholder register."""

    name: str
    address: str  # postal address
    contact: str  # e-mail or telephone

    def __post_init__(self) -> None:
        for field, limit in MAX_LENGTHS.items():
            value = getattr(self, field)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"holder info: {field!r} must be a non-empty string")
            if len(value) > limit:
                raise ValueError(f"holder info: {field!r} is longer than {limit} characters")


def public_key(pem: str | bytes) -> rsa.RSAPublicKey:
    """The RSA public key of a PEM ``PUBLIC KEY`` (SubjectPublicKeyInfo) block; ValueError
    naming what is wrong (not PEM, not RSA, outside 2048 to 8192 bits)."""
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as e:
        raise ValueError(f"not a PEM public key: {e}") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError(f"not an RSA key ({type(key).__name__})")
    _check_size(key.key_size)
    return key


def private_key(pem: str | bytes) -> rsa.RSAPrivateKey:
    """The RSA private key of an unencrypted PEM private key block (PKCS #8 or PKCS #1)."""
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise ValueError(f"not an unencrypted PEM private key: {e}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"not an RSA key ({type(key).__name__})")
    _check_size(key.key_size)
    return key


def _check_size(bits: int) -> None:
    if not MIN_KEY_BITS <= bits <= MAX_KEY_BITS:
        raise ValueError(f"RSA key of {bits} bits: {MIN_KEY_BITS} to {MAX_KEY_BITS} required")


def public_pem(key: rsa.RSAPublicKey) -> str:
    """The one PEM spelling of a public key (SubjectPublicKeyInfo), as the service stores it."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def fingerprint(key: rsa.RSAPublicKey) -> str:
    """SHA-256 of the key's DER SubjectPublicKeyInfo, hex: names a key without showing it."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(blob: dict[str, Any], field: str) -> bytes:
    value = blob.get(field)
    if not isinstance(value, str) or not _B64URL.fullmatch(value):
        raise ValueError(f"holder info blob: {field!r} must be base64url text")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as e:
        raise ValueError(f"holder info blob: {field!r} is not base64url: {e}") from None


def encrypt_for_issuer(public_key_pem: str | bytes, info: HolderInfo) -> str:
    """The blob a holder registers for the issuer whose public key is ``public_key_pem``."""
    key = public_key(public_key_pem)
    content_key = AESGCM.generate_key(bit_length=256)
    iv = os.urandom(12)
    plaintext = json.dumps(
        {"address": info.address, "contact": info.contact, "name": info.name},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    blob = {
        "alg": ALG,
        "ct": _b64(AESGCM(content_key).encrypt(iv, plaintext, _AAD)),
        "ek": _b64(key.encrypt(content_key, _OAEP)),
        "iv": _b64(iv),
        "v": VERSION,
    }
    return json.dumps(blob, sort_keys=True, separators=(",", ":"))


def decrypt(private_key_pem: str | bytes | rsa.RSAPrivateKey, blob: str) -> HolderInfo:
    """The record in ``blob``; ValueError saying why when it is not a blob of this scheme, was
    encrypted for another key, or was altered."""
    key = (
        private_key_pem
        if isinstance(private_key_pem, rsa.RSAPrivateKey)
        else private_key(private_key_pem)
    )
    try:
        parsed = json.loads(blob)
    except (json.JSONDecodeError, TypeError) as e:
        raise ValueError(f"holder info blob: not JSON ({e})") from None
    if not isinstance(parsed, dict):
        raise ValueError("holder info blob: not a JSON object")
    if parsed.get("v") != VERSION or parsed.get("alg") != ALG:
        raise ValueError(
            f"holder info blob: version {parsed.get('v')!r} and algorithm "
            f"{parsed.get('alg')!r}, expected {VERSION} and {ALG}"
        )
    wrapped, iv, ciphertext = (_unb64(parsed, f) for f in ("ek", "iv", "ct"))
    if len(iv) != 12:
        raise ValueError(f"holder info blob: 'iv' is {len(iv)} bytes, 12 expected")
    try:
        content_key = key.decrypt(wrapped, _OAEP)
    except ValueError:
        raise ValueError(
            "holder info blob: this key does not open it (encrypted for another issuer key, "
            "or 'ek' was altered)"
        ) from None
    if len(content_key) != 32:
        raise ValueError("holder info blob: the wrapped key is not an AES-256 key")
    try:
        plaintext = AESGCM(content_key).decrypt(iv, ciphertext, _AAD)
    except InvalidTag:
        raise ValueError(
            "holder info blob: authentication failed ('ct' or 'iv' was altered)"
        ) from None
    return _record(plaintext)


def _record(plaintext: bytes) -> HolderInfo:
    try:
        fields = json.loads(plaintext.decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"holder info: the decrypted record is not JSON ({e})") from None
    if not isinstance(fields, dict) or set(fields) != set(MAX_LENGTHS):
        raise ValueError(f"holder info: the record must have exactly {sorted(MAX_LENGTHS)}")
    return HolderInfo(name=fields["name"], address=fields["address"], contact=fields["contact"])

"""The issuer's encryption key: the RSA public key holders encrypt their personal information
for (registered through the admin API, stored), and the private key that opens it, which only
the environment provides (``GBT_ISSUER_KEY_FILE``, a PEM file outside the repository) and only
the bondholder register export uses."""

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.bonds.models import IssuerKey
from app.core.db import utcnow
from app.core.errors import ApiError, FieldError, unprocessable
from app.core.settings import Settings
from app.pure import holder_info

KEY_ID = 1


@dataclass(frozen=True)
class KeySaved:
    key: IssuerKey
    created: bool  # False: the same key was registered already, or it replaced another


def issuer_private_key(settings: Settings) -> rsa.RSAPrivateKey | None:
    """The issuer's private key from ``GBT_ISSUER_KEY_FILE``; None when unset. A file that
    cannot be read or holds no usable RSA key is a configuration error (ValueError)."""
    if settings.issuer_key_file is None:
        return None
    path = Path(settings.issuer_key_file)
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"GBT_ISSUER_KEY_FILE {path}: {exc.strerror}") from exc
    try:
        return holder_info.private_key(pem)
    except ValueError as exc:
        raise ValueError(f"GBT_ISSUER_KEY_FILE {path}: {exc}") from exc


def put_key(session: Session, settings: Settings, pem: str) -> KeySaved:
    """Registers the issuer's public key (idempotent: the same key again changes nothing). A
    key that does not pair with the configured private key is refused: holders would encrypt
    for a key the register export cannot open."""
    try:
        key = holder_info.public_key(pem)
    except ValueError as exc:
        raise unprocessable([FieldError("public_key_pem", str(exc))]) from None
    fingerprint = holder_info.fingerprint(key)
    try:
        private = issuer_private_key(settings)
    except ValueError as exc:
        raise ApiError(500, "issuer_key_file_unusable", str(exc)) from None
    if private is not None and holder_info.fingerprint(private.public_key()) != fingerprint:
        raise unprocessable(
            [
                FieldError(
                    "public_key_pem",
                    f"key {fingerprint} is not the public half of GBT_ISSUER_KEY_FILE's key "
                    f"({holder_info.fingerprint(private.public_key())})",
                )
            ]
        )
    try:
        return _save(session, key)
    except IntegrityError:  # a concurrent first registration: read it and decide again
        session.rollback()
        return _save(session, key)


def _save(session: Session, key: rsa.RSAPublicKey) -> KeySaved:
    fingerprint = holder_info.fingerprint(key)
    row = session.get(IssuerKey, KEY_ID)
    if row is not None and row.fingerprint == fingerprint:
        return KeySaved(row, created=False)
    created = row is None
    if row is None:
        row = IssuerKey(id=KEY_ID)
        session.add(row)
    # A new key is for registrations from now on; holders registered under the previous one
    # are re-encrypted by the issuer (PersonalInfo.modify), which holds both private keys.
    row.public_key_pem = holder_info.public_pem(key)
    row.fingerprint, row.key_bits, row.registered_at = fingerprint, key.key_size, utcnow()
    session.commit()
    return KeySaved(row, created=created)


def get_key(session: Session) -> IssuerKey:
    row = session.get(IssuerKey, KEY_ID)
    if row is None:
        raise ApiError(
            404, "not_found", "no issuer key is registered yet: PUT /v1/admin/issuer-key"
        )
    return row

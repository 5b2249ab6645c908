"""Investors' sign-in with Ethereum (EIP-4361): single-use nonces kept in the database (any API
process redeems them), the checks a signed message must pass here (domain and URI of this
service, chain id, nonce, times, the signer), and the short-lived bearer token that proves the
account afterwards (HMAC-SHA256 under the session secret; nothing stored).

Every refusal is a 4xx naming the field and the reason: 422 for a message or signature that is
malformed, 401 for one that is well formed but does not sign in here.
"""

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn, cast
from urllib.parse import urlsplit

from fastapi import Request
from sqlalchemy import CursorResult, delete, update
from sqlalchemy.orm import Session
from web3 import Web3

from app.core.errors import ApiError, FieldError, unprocessable
from app.core.security import bearer_token, is_admin_token
from app.investor.models import SiweNonce
from app.investor.siwe import (
    SignatureError,
    SiweFormatError,
    SiweMessage,
    parse_message,
    recover_signer,
)

NONCE_TTL = timedelta(minutes=5)
# How far ahead of the service's clock a signer's clock may be (Issued At, Not Before).
CLOCK_SKEW = timedelta(seconds=60)
DEFAULT_PORTS = {"http": 80, "https": 443}
TOKEN_VERSION = "v1"
_TOKEN_CONTEXT = b"gbt investor session\x00"  # keeps the HMAC apart from any other use


@dataclass(frozen=True)
class Origin:
    """Where the service is reached: messages must name it as their domain and URI."""

    scheme: str
    host: str  # lower case
    port: int

    @classmethod
    def parse(cls, url: str) -> "Origin":
        """``https://host[:port]`` (a path is ignored); ValueError for anything else."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS or not parts.hostname or parts.username is not None:
            raise ValueError(f"{url!r} is not an http(s)://host[:port] origin")
        return cls(scheme, parts.hostname.lower(), parts.port or DEFAULT_PORTS[scheme])

    def __str__(self) -> str:
        default = DEFAULT_PORTS[self.scheme] == self.port
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}" + ("" if default else f":{self.port}")

    def authority(self) -> str:
        return str(self).split("://", 1)[1]


def service_origin(request: Request) -> Origin:
    """``GBT_PUBLIC_URL`` when set (production), else the request's scheme and Host header."""
    configured: Origin | None = request.app.state.public_origin
    if configured is not None:
        return configured
    host = request.headers.get("host") or ""
    try:
        return Origin.parse(f"{request.url.scheme}://{host}")
    except ValueError as e:
        raise ApiError(400, "bad_host", f"the Host header {host!r} is not usable: {e}") from e


# Nonces -------------------------------------------------------------------------------------


def issue_nonce(session: Session, now: datetime) -> SiweNonce:
    """A fresh nonce (128 random bits, 32 hex digits: EIP-4361's alphanumeric form), valid for
    NONCE_TTL; expired ones are purged on the way (a purged nonce is unknown, so still refused)."""
    session.execute(delete(SiweNonce).where(SiweNonce.expires_at < now))
    nonce = SiweNonce(
        nonce=secrets.token_hex(16), issued_at=now, expires_at=now + NONCE_TTL, used_at=None
    )
    session.add(nonce)
    session.commit()
    return nonce


def _redeem(session: Session, nonce: str, now: datetime) -> None:
    """Marks the nonce used, once: a conditional UPDATE, so two requests racing with the same
    nonce (in any process) cannot both succeed."""
    row = session.get(SiweNonce, nonce)
    if row is None:
        _refuse("message.nonce", "was not issued by this service (or expired long ago)")
    elif row.used_at is not None:
        _refuse("message.nonce", "was already used: ask for a new one")
    elif row.expires_at <= now:
        _refuse("message.nonce", f"expired at {row.expires_at.isoformat()}: ask for a new one")
    result = cast(
        CursorResult[Any],
        session.execute(
            update(SiweNonce)
            .where(SiweNonce.nonce == nonce, SiweNonce.used_at.is_(None))
            .values(used_at=now)
        ),
    )
    if result.rowcount != 1:
        session.rollback()
        _refuse("message.nonce", "was already used: ask for a new one")
    session.commit()


# The message's checks -----------------------------------------------------------------------


def _refuse(field: str, reason: str) -> NoReturn:
    raise ApiError(
        401,
        "sign_in_refused",
        f"{field} {reason}",
        [FieldError(field, reason)],
        headers={"WWW-Authenticate": "Bearer"},
    )


def _check_origin(message: SiweMessage, origin: Origin) -> None:
    if message.scheme is not None and message.scheme.lower() != origin.scheme:
        _refuse("message.scheme", f"is {message.scheme!r}, this service is {origin}")
    # Without a scheme, the service's own is meant (EIP-4361 assumes https; a development
    # server on http://127.0.0.1:8000 is named "127.0.0.1:8000").
    try:
        named = Origin.parse(f"{origin.scheme}://{message.domain}")
    except ValueError:
        named = None
    if named != origin:
        _refuse("message.domain", f"is {message.domain!r}, this service is {origin.authority()!r}")
    try:
        target = Origin.parse(message.uri)
    except ValueError:
        target = None
    if target != origin:
        _refuse("message.uri", f"{message.uri[:80]!r} is not on this service ({origin})")


def _check_times(message: SiweMessage, now: datetime) -> None:
    if message.issued_at > now + CLOCK_SKEW:
        _refuse("message.issued_at", f"{message.issued_at.isoformat()} is in the future")
    if message.expiration_time is not None and message.expiration_time <= now:
        _refuse("message.expiration_time", f"the message expired at {message.expiration_time}")
    if message.not_before is not None and message.not_before > now + CLOCK_SKEW:
        _refuse("message.not_before", f"the message is not valid before {message.not_before}")


def sign_in(
    session: Session,
    text: str,
    signature: str,
    *,
    origin: Origin,
    chain_id: int,
    now: datetime,
) -> SiweMessage:
    """The message, once it has passed every check and its nonce is spent. In order: the
    grammar (422), then 401 for the domain and URI, the chain id, the times, the signer, and
    last the nonce (so a refused attempt does not spend it)."""
    try:
        message = parse_message(text)
    except SiweFormatError as e:
        raise unprocessable([FieldError(e.field, e.reason)]) from e
    _check_origin(message, origin)
    if message.chain_id != chain_id:
        _refuse("message.chain_id", f"is {message.chain_id}, this service's chain is {chain_id}")
    _check_times(message, now)
    try:
        signer = recover_signer(text, signature)
    except SignatureError as e:
        raise unprocessable([FieldError("signature", str(e))]) from e
    if signer != message.address:
        _refuse("signature", f"was made by {signer}, not by the message's {message.address}")
    _redeem(session, message.nonce, now)
    return message


# Session tokens -----------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, _TOKEN_CONTEXT + payload.encode(), hashlib.sha256).digest())


def issue_token(secret: bytes, account: str, issued_at: datetime, expires_at: datetime) -> str:
    """``v1.<payload>.<mac>``: the account and expiry (Unix seconds), base64url, under HMAC."""
    claims = {"sub": account, "iat": int(issued_at.timestamp()), "exp": int(expires_at.timestamp())}
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{TOKEN_VERSION}.{payload}.{_mac(secret, payload)}"


def token_account(secret: bytes, token: str, now: datetime) -> str | None:
    """The account a valid, unexpired token was issued to; None for anything else."""
    version, _, rest = token.partition(".")
    payload, _, mac = rest.partition(".")
    if version != TOKEN_VERSION or not hmac.compare_digest(mac, _mac(secret, payload)):
        return None
    try:
        claims = json.loads(_unb64(payload))
        account, expires = claims["sub"], claims["exp"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(expires, int) or expires <= now.timestamp():
        return None
    return account if isinstance(account, str) and Web3.is_checksum_address(account) else None


@dataclass(frozen=True)
class Viewer:
    """Who asks: an investor signed in as ``account``, or the admin (``account`` None)."""

    account: str | None


def require_viewer(request: Request) -> Viewer:
    """A sign-in token (the investor's account) or the admin token; 401 otherwise."""
    token = bearer_token(request)
    if token is None:
        raise ApiError(
            401,
            "unauthenticated",
            "sign in first (POST /v1/investor/auth/siwe) and send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if is_admin_token(request, token):
        return Viewer(account=None)
    account = token_account(request.app.state.session_secret, token, datetime.now(UTC))
    if account is None:
        raise ApiError(
            401,
            "unauthenticated",
            "the token is not a valid sign-in token, or it has expired: sign in again",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return Viewer(account=account)

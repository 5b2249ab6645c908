"""Admin authentication (bearer token), investor, auditor and verifier keys, and the first-start
generation of the admin token, the auditor and verifier keys and the investors' session
secret."""

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request

from app.core.errors import ApiError
from app.core.settings import Settings

ADMIN_TOKEN_FILE = "admin-token"
AUDITOR_KEY_FILE = "auditor-key"
VERIFIER_KEY_FILE = "verifier-key"
DEV_VERIFIER = "dev-verifier"
SESSION_SECRET_FILE = "investor-session-secret"


def _generated_secret(settings: Settings, file_name: str) -> str:
    """A random secret generated once and kept in the data directory (mode 0600)."""
    path = Path(settings.data_dir) / file_name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token


def resolve_admin_token(settings: Settings) -> str:
    """The configured token, or one generated once and kept in the data directory.

    Generating it keeps secrets out of the repository while `make run` still works with no
    configuration; production sets ``GBT_ADMIN_TOKEN`` from its secret store.
    """
    if settings.admin_token is not None:
        token = settings.admin_token.get_secret_value()
        if len(token) < 16:
            raise ValueError("GBT_ADMIN_TOKEN must be at least 16 characters")
        return token
    return _generated_secret(settings, ADMIN_TOKEN_FILE)


def auditor_keys(settings: Settings) -> frozenset[str]:
    """The configured auditor keys, or one generated into <data_dir>/auditor-key."""
    if settings.auditor_api_keys is None:
        return frozenset({_generated_secret(settings, AUDITOR_KEY_FILE)})
    return _key_list(settings.auditor_api_keys.get_secret_value(), "GBT_AUDITOR_API_KEYS")


@dataclass(frozen=True)
class Verifier:
    """A verification body, signed in: its name and the SHA-256 of its key (logged with each
    decision, so a decision names the credential that took it without revealing it)."""

    name: str
    key_sha256: str


def verifier_keys(settings: Settings) -> dict[str, str]:
    """Key -> verifier name: the configured ``name:key`` pairs, or a development verifier whose
    key is generated into <data_dir>/verifier-key."""
    if settings.verifier_api_keys is None:
        return {_generated_secret(settings, VERIFIER_KEY_FILE): DEV_VERIFIER}
    keys: dict[str, str] = {}
    for pair in settings.verifier_api_keys.get_secret_value().split(","):
        if not pair.strip():
            continue
        name, sep, key = pair.strip().partition(":")
        if not sep or not name.strip() or len(key.strip()) < 16:
            raise ValueError(
                "GBT_VERIFIER_API_KEYS: each entry is name:key with a key of 16+ characters"
            )
        keys[key.strip()] = name.strip()
    return keys


def session_secret(settings: Settings) -> bytes:
    """The HMAC key of investors' sign-in tokens: configured (every API process must share it),
    or generated once into <data_dir>/investor-session-secret (processes sharing the data
    directory share it)."""
    if settings.investor_session_secret is None:
        return _generated_secret(settings, SESSION_SECRET_FILE).encode()
    secret = settings.investor_session_secret.get_secret_value()
    if len(secret) < 32:
        raise ValueError("GBT_INVESTOR_SESSION_SECRET must be at least 32 characters")
    return secret.encode()


def _key_list(value: str, name: str) -> frozenset[str]:
    keys = frozenset(k.strip() for k in value.split(",")) - {""}
    if any(len(k) < 16 for k in keys):
        raise ValueError(f"every {name} entry must be at least 16 characters")
    return keys


def investor_keys(settings: Settings) -> frozenset[str]:
    if settings.investor_api_keys is None:
        return frozenset()
    return _key_list(settings.investor_api_keys.get_secret_value(), "GBT_INVESTOR_API_KEYS")


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if there is one."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def is_admin_token(request: Request, token: str) -> bool:
    expected: str = request.app.state.admin_token
    return hmac.compare_digest(token.encode(), expected.encode())


def _presented_key(request: Request) -> str | None:
    return bearer_token(request) or request.headers.get("x-api-key") or None


def require_investor(request: Request) -> None:
    """Public, or a read-only investor key; the admin token is refused here (403), as investor
    keys are refused on the admin API."""
    settings = request.app.state.settings
    if settings.investor_access == "public":
        return
    key = _presented_key(request)
    if key is None:
        raise ApiError(
            401,
            "unauthenticated",
            "the investor API needs an investor key ('Authorization: Bearer <key>' or 'X-API-Key')",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if is_admin_token(request, key):
        raise ApiError(403, "forbidden", "admin credentials are not investor credentials")
    if not any(
        hmac.compare_digest(key.encode(), k.encode()) for k in request.app.state.investor_keys
    ):
        raise ApiError(403, "forbidden", "not an investor key")


def require_auditor(request: Request) -> None:
    """An auditor key only: admin and investor credentials are refused (403)."""
    key = _presented_key(request)
    if key is None:
        raise ApiError(
            401,
            "unauthenticated",
            "the audit API needs an auditor key ('Authorization: Bearer <key>' or 'X-API-Key')",
            headers={"WWW-Authenticate": "Bearer"},
        )
    keys: frozenset[str] = request.app.state.auditor_keys
    if not any(hmac.compare_digest(key.encode(), k.encode()) for k in keys):
        raise ApiError(403, "forbidden", "not an auditor key (admin and investor keys are not)")


def require_verifier(request: Request) -> Verifier:
    """A verifier key only: admin, investor and auditor credentials are refused (403)."""
    key = _presented_key(request)
    if key is None:
        raise ApiError(
            401,
            "unauthenticated",
            "the verifier API needs a verifier key ('Authorization: Bearer <key>' or 'X-API-Key')",
            headers={"WWW-Authenticate": "Bearer"},
        )
    keys: dict[str, str] = request.app.state.verifier_keys
    for known, name in keys.items():
        if hmac.compare_digest(key.encode(), known.encode()):
            return Verifier(name, hashlib.sha256(known.encode()).hexdigest())
    raise ApiError(
        403, "forbidden", "not a verifier key (admin, investor and auditor keys are not)"
    )


def require_admin(request: Request) -> None:
    """401 when no bearer token is sent, 403 when it is the wrong one."""
    token = bearer_token(request)
    if token is None:
        raise ApiError(
            401,
            "unauthenticated",
            "admin API needs 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not is_admin_token(request, token):
        raise ApiError(403, "forbidden", "the bearer token is not the admin token")

"""Admin authentication (bearer token) and the admin token's first-start generation."""

import hmac
import os
import secrets
from pathlib import Path

from fastapi import Request

from app.core.errors import ApiError
from app.core.settings import Settings

ADMIN_TOKEN_FILE = "admin-token"


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
    path = Path(settings.data_dir) / ADMIN_TOKEN_FILE
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token


def require_admin(request: Request) -> None:
    """401 when no bearer token is sent, 403 when it is the wrong one."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401,
            "unauthenticated",
            "admin API needs 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    expected: str = request.app.state.admin_token
    if not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise ApiError(403, "forbidden", "the bearer token is not the admin token")

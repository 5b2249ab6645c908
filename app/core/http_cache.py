"""Conditional GET for read endpoints: a strong ETag and Cache-Control on every answer, 304 when
the client already has it."""

import hashlib
import json
from typing import Any

from fastapi import Request, Response

CACHE_CONTROL = "public, max-age=60"


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = [t.strip() for t in if_none_match.split(",")]
    return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)


def cached_json(request: Request, body: Any, cache_control: str = CACHE_CONTROL) -> Response:
    """JSON with a strong ETag (SHA-256 of the bytes); 304 when the client has it already."""
    data = json.dumps(body, separators=(",", ":"), default=str).encode()
    etag = f'"{hashlib.sha256(data).hexdigest()}"'
    headers = {"ETag": etag, "Cache-Control": cache_control}
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(data, media_type="application/json", headers=headers)

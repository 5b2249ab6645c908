"""Conditional GET for read endpoints: a strong ETag and Cache-Control on every answer, 304 when
the client already has it."""

import hashlib
import json

from fastapi import Request, Response
from pydantic import BaseModel

CACHE_CONTROL = "public, max-age=60"


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = [t.strip() for t in if_none_match.split(",")]
    return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)


def cached_json(request: Request, body: BaseModel, cache_control: str = CACHE_CONTROL) -> Response:
    """``body`` as JSON (by alias, nulls kept) with a strong ETag (SHA-256 of exactly the bytes
    sent); 304 when the client has it already. The route declares the model as its
    ``response_model``: FastAPI does not serialise a returned Response, but documents the model.

    Compact, ASCII-escaped ``json.dumps`` rather than ``model_dump_json`` (raw UTF-8): the bytes,
    and so the ETags clients hold, stay those the API has always sent."""
    data = json.dumps(body.model_dump(mode="json", by_alias=True), separators=(",", ":")).encode()
    etag = f'"{hashlib.sha256(data).hexdigest()}"'
    headers = {"ETag": etag, "Cache-Control": cache_control}
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(data, media_type="application/json", headers=headers)

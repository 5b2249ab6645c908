"""Every request body is read and checked here before the app sees it: above the size limit it
is 413, nested deeper than MAX_JSON_NESTING it is 422, on every route.

The body is read in full first (it is at most the size limit, and the JSON routes read it whole
anyway) so that both refusals are answered by this middleware with the project's error body.
Raising from inside the app's ``receive`` instead would reach FastAPI's body parsing, which turns
any exception there into a 400 "error parsing the body", and a chunked body, with no
Content-Length to refuse up front, would get that 400 instead of 413.
"""

import json
import re
from collections.abc import Sequence
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import ApiError, FieldError, api_error_body, unprocessable
from app.core.json_nesting import nesting_depth

# Signed batches and admin bodies nest about 4 levels; the JSON parser recurses once per level.
MAX_JSON_NESTING = 64


class RequestBodyGuard:
    """``max_bytes`` on every route, except the routes a pattern of ``limits`` matches (a path
    regular expression and its own limit: historical import files are larger than any JSON
    body)."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, limits: Sequence[tuple[str, int]] = ()
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.limits = [(re.compile(pattern), limit) for pattern, limit in limits]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        max_bytes = next((n for p, n in self.limits if p.fullmatch(path)), self.max_bytes)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await _refuse_too_large(send, max_bytes)
            return
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client is gone: nobody to answer
            chunk: bytes = message.get("body", b"")
            received += len(chunk)
            if received > max_bytes:
                await _refuse_too_large(send, max_bytes)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        refusal = too_deep(body)
        if refusal is not None:
            await _respond(send, refusal.status_code, api_error_body(refusal))
            return
        body_given = False

        async def replay_body() -> Message:
            nonlocal body_given
            if body_given:
                return await receive()  # what follows the body: the disconnect
            body_given = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay_body, send)


async def _refuse_too_large(send: Send, max_bytes: int) -> None:
    await _respond(send, 413, api_error_body(too_large(max_bytes)))


def too_large(max_bytes: int) -> ApiError:
    return ApiError(413, "body_too_large", f"request body above {max_bytes} bytes")


def too_deep(body: bytes) -> ApiError | None:
    """The 422 for a body nested deeper than the JSON parser may safely recurse, else None."""
    depth = nesting_depth(body)
    if depth <= MAX_JSON_NESTING:
        return None
    reason = f"nests arrays and objects {depth} deep; at most {MAX_JSON_NESTING} levels"
    return unprocessable([FieldError("body", reason)])


async def _respond(send: Send, status: int, content: dict[str, Any]) -> None:
    body = json.dumps(content).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

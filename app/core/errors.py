"""One error body for every 4xx/5xx the API returns.

Shape: ``{"error": {"code": str, "message": str, "details": [{"field", "reason", "index"?}]}}``
"""

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


class FieldError(dict[str, Any]):
    """One bad field: ``field`` is a dotted path (``readings[3].end``), ``reason`` is for humans."""

    def __init__(self, field: str, reason: str, index: int | None = None) -> None:
        super().__init__(field=field, reason=reason)
        if index is not None:
            self["index"] = index


class ApiError(Exception):
    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        details: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details = details or []
        self.headers = headers


def unprocessable(details: list[FieldError], message: str | None = None) -> ApiError:
    fields = ", ".join(sorted({d["field"] for d in details}))
    return ApiError(422, "invalid_input", message or f"invalid value for: {fields}", details)


def not_found(what: str, ident: object) -> ApiError:
    return ApiError(404, "not_found", f"{what} {ident} does not exist")


def conflict(field: str, reason: str) -> ApiError:
    return ApiError(409, "conflict", reason, [FieldError(field, reason)])


def error_body(code: str, message: str, details: list[FieldError] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or []}}


def _loc_to_field(loc: tuple[Any, ...]) -> tuple[str, int | None]:
    """``("body", "readings", 3, "end")`` -> ``("readings[3].end", 3)``."""
    parts: list[str] = []
    index: int | None = None
    for item in loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc:
        if isinstance(item, int):
            if index is None:
                index = item
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or str(loc[0] if loc else "body"), index


_REASONS = {
    "int_type": "must be an integer",
    "int_from_float": "must be an integer, not a fraction",
    "int_parsing": "must be an integer",
    "missing": "is required",
    "extra_forbidden": "is not a known field",
}


def _reason(err: Mapping[str, Any]) -> str:
    error_type = str(err.get("type", ""))
    message = str(err.get("msg", "is invalid"))
    return _REASONS.get(error_type, message)


def api_error_body(exc: ApiError) -> dict[str, Any]:
    return error_body(exc.code, exc.message, exc.details)


def validation_error(errors: Iterable[Mapping[str, Any]]) -> ApiError:
    """Validation errors (pydantic's, or FastAPI's for a request) as the API's 422."""
    details = []
    for err in errors:
        if err.get("type") == "json_invalid":  # loc holds a character offset, not a field
            details.append(FieldError("body", f"is not valid JSON ({err.get('msg')})"))
            continue
        field, index = _loc_to_field(tuple(err.get("loc", ())))
        details.append(FieldError(field, _reason(err), index))
    return unprocessable(details)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(api_error_body(exc), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(api_error_body(validation_error(exc.errors())), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

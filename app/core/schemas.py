"""Pydantic building blocks shared by every domain's schemas."""

import re
from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

T = TypeVar("T")

DB_ID_MAX = 2**63 - 1  # BIGINT
DB_INT_MAX = 2**31 - 1  # INTEGER
DbId = Annotated[int, Field(ge=1, le=DB_ID_MAX, description="An id this API returned.")]


# The one timestamp form a client may send (docs/ingest-signing.md): whole seconds, upper-case
# `T`, and `Z` or a `+HH:MM`/`-HH:MM` offset. Exactly what converts to one Unix second, so a
# signed batch's canonical bytes have one JSON spelling per offset and nothing is lost.
RFC3339_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$"
_RFC3339 = re.compile(RFC3339_PATTERN)
# Close misses, parsed only to say what is wrong with them.
_NEAR_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?P<fraction>\.\d+)?(?P<offset>Z|[+-]\d{2}:\d{2})?"
)
_RFC3339_FORM = "an RFC 3339 timestamp like 2026-04-01T00:00:00Z or 2026-04-01T09:00:00+09:00"


def _parse_rfc3339(value: object) -> datetime:
    """The instant of a timestamp in the documented form, in UTC; anything else is refused with
    the reason (no epoch numbers, space or lower-case separators, fractions, `+0900` offsets).
    Python code (settings defaults, services called directly) may pass an aware ``datetime`` in
    whole seconds: JSON and query strings never produce one."""
    if isinstance(value, datetime) and value.tzinfo is not None and not value.microsecond:
        return value.astimezone(UTC)
    if not isinstance(value, str):
        raise PydanticCustomError("rfc3339", f"must be a string: {_RFC3339_FORM}")
    if not _RFC3339.fullmatch(value):
        near = _NEAR_RFC3339.fullmatch(value)
        if near and near["fraction"]:
            reason = "must be whole seconds (no fraction)"
        elif near:
            reason = "must include a UTC offset ('Z' or '+HH:MM')"
        else:
            reason = f"must be {_RFC3339_FORM} (upper-case 'T' and 'Z', offset as +HH:MM)"
        raise PydanticCustomError("rfc3339", reason)
    try:
        return datetime.fromisoformat(value).astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise PydanticCustomError(
            "rfc3339", "is not a valid date and time ({error})", {"error": str(exc)}
        ) from None


Rfc3339Time = Annotated[
    datetime,
    PlainValidator(_parse_rfc3339),
    WithJsonSchema(
        {"type": "string", "format": "date-time", "pattern": RFC3339_PATTERN},
    ),
]
"""A client-given point in time (bodies and query parameters alike), validated as a string
against the documented form, then converted to an aware UTC ``datetime``."""


class StrictInput(BaseModel):
    """Request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )

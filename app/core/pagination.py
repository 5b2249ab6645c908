"""Keyset paging on an integer id: stable under concurrent inserts, O(page) per request."""

from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.core.errors import FieldError, unprocessable
from app.core.schemas import DB_ID_MAX

T = TypeVar("T")

MAX_PAGE = 1000


def decode_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not cursor.isdigit() or not 0 <= int(cursor) <= DB_ID_MAX:
        raise unprocessable([FieldError("cursor", "is not a cursor this API returned")])
    return int(cursor)


def keyset_page(
    session: Session,
    query: Select[tuple[T]],
    id_column: InstrumentedAttribute[Any],
    limit: int,
    cursor: str | None,
) -> tuple[list[T], str | None]:
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(id_column > after)
    rows = list(session.scalars(query.order_by(id_column).limit(limit + 1)))
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, str(getattr(rows[-1], id_column.key))
    return rows, None

"""Paging of every list the API serves: cursors, the page cut from the items fetched, and keyset
paging on an integer id (stable under concurrent inserts, O(page) per request)."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.core.errors import FieldError, unprocessable
from app.core.schemas import DB_ID_MAX, Page

T = TypeVar("T")
U = TypeVar("U")

MAX_PAGE = 1000


def decode_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not cursor.isdigit() or not 0 <= int(cursor) <= DB_ID_MAX:
        raise unprocessable([FieldError("cursor", "is not a cursor this API returned")])
    return int(cursor)


@dataclass(frozen=True)
class Rows(Generic[T]):
    """One page of stored rows and the cursor of the next page (None on the last)."""

    items: list[T]
    next_cursor: str | None

    def page(self, out: Callable[[T], U]) -> Page[U]:
        """The API's page of these rows, each converted by ``out``."""
        return Page(items=[out(row) for row in self.items], next_cursor=self.next_cursor)


def cut(items: list[T], limit: int, cursor_of: Callable[[T], object]) -> Rows[T]:
    """The first ``limit`` of ``items`` (fetched as ``limit + 1`` or more): any item beyond them
    says there is a next page, which starts after the cursor of the last item kept."""
    if len(items) > limit:
        return Rows(items[:limit], str(cursor_of(items[limit - 1])))
    return Rows(items, None)


def series_start(cursor: str | None, first_day: date | None) -> date | None:
    """Where a page of a series by period starts: its cursor is the last period start returned,
    the next page starts the day after; the first page at ``first_day``."""
    if cursor is None:
        return first_day
    try:
        return date.fromisoformat(cursor) + timedelta(days=1)
    except (ValueError, OverflowError):  # OverflowError: the last day there is
        raise unprocessable([FieldError("cursor", "is not a cursor this API returned")]) from None


def page(items: list[T], limit: int, cursor_of: Callable[[T], object]) -> Page[T]:
    """API items as a page of ``limit`` (see ``cut``)."""
    rows = cut(items, limit, cursor_of)
    return Page(items=rows.items, next_cursor=rows.next_cursor)


def keyset_page(
    session: Session,
    query: Select[tuple[T]],
    id_column: InstrumentedAttribute[Any],
    limit: int,
    cursor: str | None,
) -> Rows[T]:
    """The rows of ``query`` after the cursor, in ``id_column`` order."""
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(id_column > after)
    rows = list(session.scalars(query.order_by(id_column).limit(limit + 1)))
    return cut(rows, limit, lambda row: getattr(row, id_column.key))

"""FastAPI dependencies shared by the routers."""

from collections.abc import Iterator
from datetime import date
from typing import Annotated, Literal

from fastapi import Depends, Path, Query, Request
from sqlalchemy.orm import Session

from app.core.pagination import MAX_PAGE
from app.core.schemas import DB_ID_MAX


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.session_factory() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
LimitQuery = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page size.")]
CursorQuery = Annotated[
    str | None, Query(description="`next_cursor` of the previous page; omit for the first.")
]
IdPath = Annotated[int, Path(ge=1, le=DB_ID_MAX)]
CheckpointNumberPath = Annotated[int, Path(ge=0, le=DB_ID_MAX)]
CheckpointNumberQuery = Annotated[int, Query(ge=0, le=DB_ID_MAX)]
IdFilter = Annotated[int | None, Query(ge=1, le=DB_ID_MAX)]
Period = Annotated[Literal["day", "month"], Query(description="Local calendar day or month.")]
FirstDay = Annotated[date | None, Query(description="First period start (inclusive).")]
LastDay = Annotated[date | None, Query(description="Last period start (inclusive).")]

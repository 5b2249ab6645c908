"""Pydantic building blocks shared by every domain's schemas."""

from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")

DB_ID_MAX = 2**63 - 1  # BIGINT
DB_INT_MAX = 2**31 - 1  # INTEGER
DbId = Annotated[int, Field(ge=1, le=DB_ID_MAX, description="An id this API returned.")]


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

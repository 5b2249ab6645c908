"""What the report routes answer."""

from datetime import date
from typing import Any, Literal

from pydantic import Field

from app.core.schemas import Output


class LoggedState(Output):
    state: Literal["logged", "queued", "not_logged"] = Field(
        description="logged: the report leaf is in the log; queued: published, waiting for the "
        "sequencer; not_logged: a provisional report (its period is not closed) is never logged."
    )
    leaf_index: int | None = Field(description="The report leaf's index in the log.")


class ReportOut(Output):
    content: dict[str, Any] = Field(
        description="The report (format gbt-green-bond-report/1, docs/reporting.md). Its "
        "canonical JSON hashes to content_sha256."
    )
    content_sha256: str = Field(description="SHA-256 of the content's canonical JSON (hex).")
    status: Literal["final", "provisional"]
    logged: LoggedState


class PublishedReportOut(Output):
    period_kind: str
    period_label: str
    period_start: date
    period_end: date
    checkpoint_number: int
    content_sha256: str
    leaf_index: int | None


class PublishedReports(Output):
    items: list[PublishedReportOut]

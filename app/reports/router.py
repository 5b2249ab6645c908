"""Report routes, under the investor API (same access: public or the investor key)."""

from datetime import date, datetime
from typing import Annotated, Literal, cast
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request, Response

from app.core.deps import CheckpointNumberQuery, IdPath, SessionDep
from app.core.errors import ApiError, FieldError, unprocessable
from app.core.http_cache import cached_json
from app.core.security import require_investor
from app.pure.report import PeriodKind, ReportPeriod, fiscal_year_of
from app.reports import service
from app.reports.render import PdfUnavailableError, render
from app.reports.schemas import LoggedState, PublishedReportOut, PublishedReports, ReportOut

router = APIRouter(
    prefix="/v1/investor", tags=["reports"], dependencies=[Depends(require_investor)]
)
# Fiscal years are Japanese ones; "the year in progress" is the one in progress in Japan.
FISCAL_TZ = ZoneInfo("Asia/Tokyo")
Year = Annotated[int | None, Query(ge=2000, le=2100)]


def _period(
    fiscal_year: int | None, calendar_year: int | None, start: date | None, end: date | None
) -> ReportPeriod:
    given = [
        name
        for name, value in (
            ("fiscal_year", fiscal_year),
            ("calendar_year", calendar_year),
            ("start", start),
            ("end", end),
        )
        if value is not None
    ]
    if fiscal_year is not None and len(given) == 1:
        return ReportPeriod.fiscal_year(fiscal_year)
    if calendar_year is not None and len(given) == 1:
        return ReportPeriod.calendar_year(calendar_year)
    if set(given) == {"start", "end"}:
        assert start is not None and end is not None
        try:
            return ReportPeriod.between(start, end)
        except ValueError as e:
            field, _, reason = str(e).partition(": ")
            raise unprocessable([FieldError(field, reason)]) from e
    if not given:
        return ReportPeriod.fiscal_year(fiscal_year_of(datetime.now(FISCAL_TZ).date()))
    raise unprocessable(
        [
            FieldError(
                given[0],
                "give one period: fiscal_year, calendar_year, or start and end together",
            )
        ]
    )


@router.get(
    "/bonds/{bond_id}/reports/annual",
    summary="The bond's green bond report (allocation and impact) for a period",
    description="Allocation and impact report at a confirmed checkpoint (the latest, or "
    "`checkpoint`), for a Japanese fiscal year (`fiscal_year`, April to March; the default is "
    "the one in progress), a `calendar_year`, or `start` to `end` (inclusive). `format`: json, "
    "csv, xlsx or pdf (English or Japanese, `lang`). A report whose period is closed (every "
    "day of every project final in the checkpoint) is published: its content hash becomes a "
    "`report` leaf of the log, and every format embeds that hash (docs/reporting.md).",
    response_model=ReportOut,
    responses={
        200: {
            "content": {
                "text/csv": {},
                "application/pdf": {},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
            }
        },
        304: {"description": "Not modified (If-None-Match matched the ETag)"},
    },
)
def annual_report(
    request: Request,
    session: SessionDep,
    bond_id: IdPath,
    fiscal_year: Year = None,
    calendar_year: Year = None,
    start: date | None = None,
    end: date | None = None,
    checkpoint: CheckpointNumberQuery | None = None,
    format: Literal["json", "csv", "xlsx", "pdf"] = "json",
    lang: Literal["en", "ja"] = "en",
) -> Response:
    period = _period(fiscal_year, calendar_year, start, end)
    report = service.report(session, bond_id, period, checkpoint)
    if format == "json":
        body = ReportOut(
            content=report.content,
            content_sha256=report.content_sha256,
            status=report.status,
            logged=LoggedState(state=report.logged_state, leaf_index=report.leaf_index),
        )
        return cached_json(request, body)
    try:
        document = render(report.content, report.content_sha256, format, lang)
    except PdfUnavailableError as e:
        raise ApiError(503, "pdf_unavailable", str(e)) from e
    return Response(
        document.data,
        media_type=document.media_type,
        headers={"Content-Disposition": f'attachment; filename="{document.filename}"'},
    )


@router.get(
    "/bonds/{bond_id}/reports",
    summary="The bond's published reports",
    description="Reports published for closed periods, newest first, with their report "
    "leaf's index (null while the leaf waits for the sequencer).",
    response_model=PublishedReports,
    responses={304: {"description": "Not modified (If-None-Match matched the ETag)"}},
)
def published_reports(request: Request, session: SessionDep, bond_id: IdPath) -> Response:
    items = [
        PublishedReportOut(
            period_kind=r.period_kind,
            period_label=ReportPeriod(
                cast(PeriodKind, r.period_kind), r.period_start, r.period_end
            ).label,
            period_start=r.period_start,
            period_end=r.period_end,
            checkpoint_number=r.checkpoint_number,
            content_sha256=r.content_sha256,
            leaf_index=leaf_index,
        )
        for r, leaf_index in service.published(session, bond_id)
    ]
    return cached_json(request, PublishedReports(items=items))

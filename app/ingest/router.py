"""Meter ingestion (authenticated by the batch signature) and the admin view of readings."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from app.core.deps import CursorQuery, IdPath, LimitQuery, SessionDep
from app.core.errors import error_body
from app.core.schemas import Page, Rfc3339Time
from app.core.security import require_admin
from app.ingest import service
from app.ingest.models import Reading
from app.ingest.schemas import BatchIn, BatchResult, ReadingOut

router = APIRouter(tags=["ingest"])


def _errors(*pairs: tuple[int, str, str]) -> dict[int | str, dict[str, object]]:
    return {
        status: {
            "description": description,
            "content": {"application/json": {"example": error_body(code, description)}},
        }
        for status, code, description in pairs
    }


@router.post(
    "/v1/meters/{meter_id}/readings",
    response_model=BatchResult,
    summary="Post a signed batch of interval readings",
    description="Atomic: the whole batch is stored or nothing is. Retrying the exact same batch "
    "(same sequence, same content) returns the original counts with `replayed: true`.",
    responses=_errors(
        (401, "bad_signature", "missing or invalid signature"),
        (403, "meter_inactive", "the meter is deactivated"),
        (404, "not_found", "unknown meter"),
        (409, "conflict", "sequence already used for a different batch"),
        (413, "batch_too_large", "too many readings or too large a body"),
        (422, "invalid_input", "every invalid reading with its index and reason"),
    ),
)
def post_readings(
    meter_id: IdPath, batch: BatchIn, session: SessionDep, request: Request
) -> BatchResult:
    return service.ingest_batch(session, meter_id, batch, request.app.state.ingest_limits)


@router.get(
    "/v1/admin/meters/{meter_id}/readings",
    response_model=Page[ReadingOut],
    dependencies=[Depends(require_admin)],
    tags=["admin"],
    summary="A meter's readings, ordered by interval start",
)
def get_readings(
    meter_id: IdPath,
    session: SessionDep,
    start_from: Annotated[Rfc3339Time | None, Query(description="Inclusive, RFC 3339.")] = None,
    start_to: Annotated[Rfc3339Time | None, Query(description="Exclusive, RFC 3339.")] = None,
    all_revisions: Annotated[
        bool, Query(description="Include superseded revisions, not only the latest.")
    ] = False,
    limit: LimitQuery = 1000,
    cursor: CursorQuery = None,
) -> Page[ReadingOut]:
    return service.list_readings(
        session, meter_id, start_from, start_to, all_revisions, limit, cursor
    ).page(_reading_out)


def _reading_out(r: Reading) -> ReadingOut:
    return ReadingOut(
        id=r.id,
        meter_id=r.meter_id,
        start=r.start_at,
        end=r.end_at,
        energy_wh=r.energy_wh,
        temperature_centi_c=r.temperature_centi_c,
        revision=r.revision,
        supersedes_id=r.supersedes_id,
        batch_id=r.batch_id,
    )

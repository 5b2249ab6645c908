"""Meter ingestion (authenticated by the batch signature) and the admin view of readings."""

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from app.core.deps import CursorQuery, IdPath, LimitQuery, SessionDep
from app.core.errors import error_body
from app.core.schemas import Page, Rfc3339Time
from app.core.security import require_admin
from app.ingest import imports, service
from app.ingest.models import Reading
from app.ingest.schemas import BatchIn, BatchResult, ImportResult, ReadingOut

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
    rows = service.list_readings(
        session, meter_id, start_from, start_to, all_revisions, limit, cursor
    )
    conflicts = service.superseding_imported(session, [r.id for r in rows.items])
    return rows.page(_reading_out(conflicts))


def _reading_out(conflicts: set[int]) -> Callable[[Reading], ReadingOut]:
    return lambda r: _one_reading(r, r.id in conflicts)


def _one_reading(r: Reading, conflict_with_import: bool) -> ReadingOut:
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
        import_id=r.import_id,
        conflict_with_import=conflict_with_import,
    )


async def _raw_body(request: Request) -> bytes:
    return await request.body()


@router.post(
    "/v1/admin/meters/{meter_id}/imports",
    response_model=ImportResult,
    status_code=201,
    dependencies=[Depends(require_admin)],
    tags=["admin"],
    summary="Import a historical file of a meter (issuer-attested)",
    description="The raw file as the request body, its format by `Content-Type`: `text/csv` "
    "(header `start,end,value,unit` for intervals, `period_start,period_end,kwh` for billing "
    "periods) or `application/xml` (Green Button, ESPI Atom feed). All or nothing; every problem "
    "names its `line N` or element path. The same file again for the meter returns the first "
    "import (200). Intervals that already have a device-signed reading are not imported "
    '(`conflicts`). docs/ingest-signing.md, "Historical imports".',
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {media: {"schema": {"type": "string"}} for media in imports.MEDIA_TYPES},
        }
    },
    responses={
        200: {"description": "this file was imported before: the first import"},
        **_errors(
            (404, "not_found", "unknown meter"),
            (415, "unsupported_media_type", "not CSV or XML"),
            (422, "invalid_input", "every problem of the file, by line or element"),
        ),
    },
)
def post_import(
    meter_id: IdPath,
    session: SessionDep,
    request: Request,
    response: Response,
    body: Annotated[bytes, Depends(_raw_body)],
    x_imported_by: Annotated[
        str | None, Header(description="The person making the import, stored as given.")
    ] = None,
) -> ImportResult:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    result, created = imports.import_file(
        session,
        meter_id,
        body,
        media_type,
        imports.imported_by_person(x_imported_by),
        request.app.state.ingest_limits,
    )
    if not created:
        response.status_code = 200
    return result


@router.get(
    "/v1/admin/meters/{meter_id}/readings.xml",
    dependencies=[Depends(require_admin)],
    tags=["admin"],
    summary="A meter's intervals as Green Button (ESPI Atom feed)",
    response_class=Response,
    responses={
        200: {"content": {"application/atom+xml": {"schema": {"type": "string"}}}},
        **_errors(
            (404, "not_found", "unknown meter"),
            (409, "not_energy", "a temperature meter"),
        ),
    },
)
def get_readings_xml(meter_id: IdPath, session: SessionDep) -> Response:
    return Response(
        imports.green_button_export(session, meter_id), media_type="application/atom+xml"
    )

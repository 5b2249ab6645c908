"""Historical imports (docs/ingest-signing.md, "Historical imports"): a file the issuer attests,
stored all or nothing, idempotent by the file's SHA-256 per meter, logged as an ``import`` leaf
followed by the reading leaves that name it. Device-signed data wins: an interval that has a
device-signed reading is not imported (a conflict)."""

import hashlib
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import bulk_insert, utcnow
from app.core.errors import ApiError, FieldError, not_found, unprocessable
from app.ingest.import_formats import (
    ImportedFile,
    ImportFormatError,
    Problem,
    bill_problems,
    interval_problems,
    parse_import,
    render_green_button,
)
from app.ingest.models import BillingPeriod, Reading, ReadingImport
from app.ingest.schemas import ImportResult
from app.ingest.service import (
    IngestLimits,
    dt,
    latest_values,
    record_changes,
    stored_latest,
)
from app.ingest.validation import FIELD_OF_KIND, KIND_OF_QUANTITY, ReadingsFloor
from app.outbox.service import enqueue
from app.pure.signing import ValueKind
from app.registry.service import get_asset, get_meter, lock_meter_for_ingest

MEDIA_TYPES = ("text/csv", "application/xml", "text/xml", "application/atom+xml")
ADMIN = "admin"  # the one admin credential (bearer token) the import was made with
MAX_PERSON_CHARS = 200


def imported_by_person(header: str | None) -> str | None:
    """The ``X-Imported-By`` header as given (422 if it is too long or has control characters)."""
    if header is None:
        return None
    if not header.strip() or len(header) > MAX_PERSON_CHARS or not header.isprintable():
        raise unprocessable(
            [
                FieldError(
                    "X-Imported-By",
                    f"a person's name: 1 to {MAX_PERSON_CHARS} printable characters",
                )
            ]
        )
    return header


def _refused(problems: list[Problem]) -> ApiError:
    return unprocessable(
        [FieldError(p.where, p.reason) for p in problems],
        f"{len(problems)} problem(s) in the file; nothing was imported",
    )


def import_file(
    session: Session,
    meter_id: int,
    body: bytes,
    media_type: str,
    person: str | None,
    limits: IngestLimits,
) -> tuple[ImportResult, bool]:
    """(the import, whether it is new). The same file again for the meter: the first import."""
    meter = get_meter(session, meter_id)  # 404
    quantity, interval_s, installed_at = meter.quantity, meter.interval_s, meter.installed_at
    sha256 = hashlib.sha256(body).digest()
    previous = _by_hash(session, meter_id, sha256)
    session.rollback()
    if previous is not None:
        return previous, False
    if media_type not in MEDIA_TYPES:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Content-Type must be one of {', '.join(MEDIA_TYPES)}",
            [FieldError("Content-Type", f"{media_type or 'missing'} is not an import format")],
        )
    kind = KIND_OF_QUANTITY[quantity]
    try:
        parsed = parse_import(body, media_type, FIELD_OF_KIND[kind])
    except ImportFormatError as e:
        raise _refused(e.problems) from None
    now = utcnow()
    floor = ReadingsFloor.of(installed_at, limits.earliest_reading)
    latest_start_s = int(now.timestamp()) + limits.max_clock_skew_s
    problems = interval_problems(
        parsed.intervals,
        interval_s,
        floor.start_s,
        floor.reason,
        latest_start_s,
        energy=kind == ValueKind.ENERGY_WH,
    ) + bill_problems(
        parsed.bills,
        dt(floor.start_s).date(),
        dt(latest_start_s).date() + timedelta(days=1),
    )
    if problems:
        raise _refused(problems)
    return _store(session, meter_id, sha256, parsed, person, kind, now), True


def _store(
    session: Session,
    meter_id: int,
    sha256: bytes,
    parsed: ImportedFile,
    person: str | None,
    kind: ValueKind,
    now: datetime,
) -> ImportResult:
    meter = lock_meter_for_ingest(session, meter_id)
    if meter is None:
        raise not_found("meter", meter_id)
    previous = _by_hash(session, meter_id, sha256)  # the same file raced in meanwhile
    if previous is not None:
        session.rollback()
        return previous
    rows: list[dict[str, object]] = []
    conflicts = duplicates = 0
    if parsed.intervals:
        spans = [(r.start_s, r.end_s) for r in parsed.intervals]
        first, last = min(s for s, _ in spans), max(e for _, e in spans)
        latest = stored_latest(session, meter_id, [s for s, _ in spans], meter.interval_s)
        column = FIELD_OF_KIND[kind]
        for r in sorted(parsed.intervals, key=lambda r: r.start_s):
            stored = latest.get(r.start_s)
            if stored is not None and not stored.imported:
                conflicts += 1  # device-signed data wins
                continue
            if stored is not None and stored.value == r.value:
                duplicates += 1  # another import stored this value already
                continue
            rows.append(
                {
                    "meter_id": meter_id,
                    "start_at": dt(r.start_s),
                    "end_at": dt(r.end_s),
                    column: r.value,
                    "revision": 0 if stored is None else stored.revision + 1,
                    "supersedes_id": None if stored is None else stored.reading_id,
                }
            )
        row_count = len(rows)
    else:
        first = _midnight(min(b.start for b in parsed.bills))
        last = _midnight(max(b.end for b in parsed.bills))
        row_count = len(parsed.bills)
    record = ReadingImport(
        meter_id=meter_id,
        sha256=sha256,
        format=parsed.format,
        imported_by=ADMIN,
        imported_by_person=person,
        imported_at=now,
        row_count=row_count,
        conflict_count=conflicts,
        duplicate_count=duplicates,
        first_start=dt(first),
        last_end=dt(last),
    )
    session.add(record)
    session.flush()
    enqueue(session, "import", [record.id])
    if rows:
        for row in rows:
            row["import_id"] = record.id
        bulk_insert(session, Reading.__table__, rows)
        record_changes(session, meter_id, rows)
        enqueue(session, "import_readings", [record.id])
    if parsed.bills:
        bulk_insert(
            session,
            BillingPeriod.__table__,
            [
                {
                    "meter_id": meter_id,
                    "period_start": b.start,
                    "period_end": b.end,
                    "energy_wh": b.energy_wh,
                    "import_id": record.id,
                }
                for b in sorted(parsed.bills, key=lambda b: b.start)
            ],
        )
        # A bill changes the meter's data as a reading does: the impact job then refits a
        # billing baseline whose year it touches and recomputes the days that use it.
        edges = {day for b in parsed.bills for day in (b.start, b.end - timedelta(days=1))}
        record_changes(session, meter_id, [{"start_at": dt(_midnight(d))} for d in edges])
    result = _result(record)
    session.commit()
    return result


def _midnight(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def _by_hash(session: Session, meter_id: int, sha256: bytes) -> ImportResult | None:
    record = session.scalar(
        select(ReadingImport).where(
            ReadingImport.meter_id == meter_id, ReadingImport.sha256 == sha256
        )
    )
    return None if record is None else _result(record)


def _result(record: ReadingImport) -> ImportResult:
    return ImportResult(
        import_id=record.id,
        meter_id=record.meter_id,
        sha256=record.sha256.hex(),
        format=record.format,
        imported_by=record.imported_by,
        imported_by_person=record.imported_by_person,
        imported_at=record.imported_at,
        rows=record.row_count,
        conflicts=record.conflict_count,
        duplicates=record.duplicate_count,
        first_start=record.first_start,
        last_end=record.last_end,
    )


def imports_by_ids(
    session: Session, ids: list[int]
) -> dict[int, tuple[ReadingImport, list[BillingPeriod]]]:
    """Each import with its billing periods (by start)."""
    imports: dict[int, tuple[ReadingImport, list[BillingPeriod]]] = {
        r.id: (r, [])
        for r in session.scalars(select(ReadingImport).where(ReadingImport.id.in_(ids)))
    }
    bills = session.scalars(
        select(BillingPeriod)
        .where(BillingPeriod.import_id.in_(ids))
        .order_by(BillingPeriod.period_start, BillingPeriod.id)
    )
    for bill in bills:
        imports[bill.import_id][1].append(bill)
    return imports


def billing_periods(session: Session, meter_ids: list[int]) -> list[BillingPeriod]:
    """The meters' imported bills, by import, then start."""
    return list(
        session.scalars(
            select(BillingPeriod)
            .where(BillingPeriod.meter_id.in_(meter_ids))
            .order_by(BillingPeriod.import_id, BillingPeriod.period_start)
        )
    )


def import_of(session: Session, import_id: int) -> ReadingImport | None:
    return session.get(ReadingImport, import_id)


def green_button_export(session: Session, meter_id: int) -> bytes:
    """The meter's intervals (latest revisions) as a Green Button file."""
    meter = get_meter(session, meter_id)
    if KIND_OF_QUANTITY[meter.quantity] != ValueKind.ENERGY_WH:
        raise ApiError(
            409,
            "not_energy",
            f"meter {meter_id} measures {meter.quantity}: Green Button carries energy only",
        )
    asset = get_asset(session, meter.asset_id)
    values = sorted(latest_values(session, meter_id, dt(0), datetime(9999, 1, 1, tzinfo=UTC)))
    now = utcnow()
    offset = now.astimezone(ZoneInfo(asset.timezone)).utcoffset()
    tz_offset_s = 0 if offset is None else int(offset.total_seconds())
    return render_green_button(
        meter_id,
        meter.device_id,
        meter.interval_s,
        tz_offset_s,
        [(start, start + meter.interval_s, value) for start, value, _, _ in values],
        now,
    )

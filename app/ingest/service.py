"""Store a signed batch: authenticate, validate, classify each reading against what is stored
(new, duplicate, correction), write batch and readings in one transaction."""

import hashlib
import struct
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import NamedTuple

from sqlalchemy import and_, delete, exists, func, select
from sqlalchemy.orm import Session, aliased

from app.core.db import bulk_insert, upsert, utcnow
from app.core.errors import ApiError, FieldError, conflict, not_found, unprocessable
from app.core.pagination import Rows, cut
from app.core.schemas import DB_INT_MAX
from app.core.settings import Settings
from app.ingest.models import IngestBatch, Reading, ReadingChange, ReadingImport
from app.ingest.schemas import BatchIn, BatchResult, ReadingIn
from app.ingest.validation import ReadingsFloor, validate_readings
from app.outbox.service import enqueue
from app.pure.signing import (
    SIGNATURE_BYTES,
    SignedReading,
    ValueKind,
    encode_batch,
    strict_hex,
    verify_signature,
)
from app.registry.service import get_meter, lock_meter_for_ingest

# Above this many intervals per reading, a batch is too sparse to fetch its stored values by
# one time-range scan; it is looked up key by key instead.
_RANGE_SCAN_MAX_SPARSENESS = 4
_IN_LIST_CHUNK = 500


@dataclass(frozen=True)
class IngestLimits:
    max_batch_readings: int
    max_clock_skew_s: int
    # Readings of a meter without ``installed_at`` may not start earlier (docs/ingest-signing.md).
    earliest_reading: datetime

    @classmethod
    def of(cls, settings: Settings) -> "IngestLimits":
        return cls(
            max_batch_readings=settings.ingest_max_batch_readings,
            max_clock_skew_s=settings.ingest_max_clock_skew_s,
            earliest_reading=settings.ingest_earliest_reading,
        )


def _signed_readings(readings: list[ReadingIn]) -> list[SignedReading]:
    """Schema -> canonical form; the structural problems that make a batch unsignable are 422.
    Timestamps are whole UTC seconds already (``Rfc3339Time``)."""
    out: list[SignedReading] = []
    errors: list[FieldError] = []
    for i, r in enumerate(readings):
        if (r.energy_wh is None) == (r.temperature_centi_c is None):
            errors.append(
                FieldError(
                    f"readings[{i}]", "give exactly one of energy_wh and temperature_centi_c", i
                )
            )
            continue
        if r.energy_wh is not None:
            kind, value = ValueKind.ENERGY_WH, r.energy_wh
        else:
            assert r.temperature_centi_c is not None
            kind, value = ValueKind.TEMPERATURE_CENTI_C, r.temperature_centi_c
        out.append(SignedReading(int(r.start.timestamp()), int(r.end.timestamp()), kind, value))
    if errors:
        raise unprocessable(errors)
    return out


class Stored(NamedTuple):
    """The latest stored revision of an interval."""

    revision: int
    value: int
    reading_id: int
    imported: bool  # an issuer-attested import stored it, not a signed batch


def stored_latest(
    session: Session, meter_id: int, starts: list[int], interval_s: int
) -> dict[int, Stored]:
    """Latest stored revision per interval start."""
    columns = (
        Reading.start_at,
        Reading.revision,
        Reading.id,
        Reading.energy_wh,
        Reading.temperature_centi_c,
        Reading.import_id,
    )
    lo, hi = min(starts), max(starts)
    if (hi - lo) // interval_s + 1 <= _RANGE_SCAN_MAX_SPARSENESS * len(starts):
        queries = [
            select(*columns).where(
                Reading.meter_id == meter_id,
                Reading.start_at >= dt(lo),
                Reading.start_at <= dt(hi),
            )
        ]
    else:
        unique = sorted(set(starts))
        queries = [
            select(*columns).where(
                Reading.meter_id == meter_id,
                Reading.start_at.in_([dt(s) for s in unique[i : i + _IN_LIST_CHUNK]]),
            )
            for i in range(0, len(unique), _IN_LIST_CHUNK)
        ]
    latest: dict[int, Stored] = {}
    for query in queries:
        for start_at, revision, reading_id, energy_wh, temperature, import_id in session.execute(
            query
        ):
            key = int(start_at.timestamp())
            if key not in latest or revision > latest[key].revision:
                stored = energy_wh if energy_wh is not None else temperature
                latest[key] = Stored(revision, stored, reading_id, import_id is not None)
    return latest


def dt(epoch_s: int) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


def ingest_batch(
    session: Session, meter_id: int, batch: BatchIn, limits: IngestLimits
) -> BatchResult:
    meter = get_meter(session, meter_id)  # 404 for an unknown meter
    if not meter.active:
        raise ApiError(403, "meter_inactive", f"meter {meter_id} is deactivated")
    public_key_hex, quantity, interval_s = meter.public_key_hex, meter.quantity, meter.interval_s
    installed_at = meter.installed_at
    session.rollback()  # end the read; the write transaction starts below, after the checks

    if len(batch.readings) > limits.max_batch_readings:
        raise ApiError(
            413,
            "batch_too_large",
            f"{len(batch.readings)} readings; at most {limits.max_batch_readings} per batch",
            [FieldError("readings", f"at most {limits.max_batch_readings} readings per batch")],
        )
    signed = _signed_readings(batch.readings)
    try:
        payload = encode_batch(meter_id, batch.sequence, signed)
    except struct.error:  # unreachable with schema bounds; kept so a change there fails loudly
        raise unprocessable([FieldError("readings", "value out of range")]) from None
    signature = _signature_bytes(batch.signature_hex)
    if signature is None or not verify_signature(public_key_hex, signature, payload):
        raise ApiError(
            401,
            "bad_signature",
            "missing or invalid signature: sign the canonical batch bytes with the meter's "
            "registered Ed25519 key (docs/ingest-signing.md)",
            [FieldError("signature_hex", "does not verify with the meter's public key")],
        )
    now = utcnow()
    errors = validate_readings(
        signed,
        quantity,
        interval_s,
        int(now.timestamp()),
        limits.max_clock_skew_s,
        ReadingsFloor.of(installed_at, limits.earliest_reading),
    )
    if errors:
        raise unprocessable(
            [FieldError(f"readings[{e.index}].{e.field}", e.reason, e.index) for e in errors],
            f"{len({e.index for e in errors})} of {len(signed)} readings are invalid; "
            "nothing was stored",
        )
    return _store(session, meter_id, batch.sequence, signed, payload, signature, now)


def _signature_bytes(signature_hex: str | None) -> bytes | None:
    if not signature_hex:
        return None
    try:
        return strict_hex(signature_hex, SIGNATURE_BYTES)
    except ValueError:
        return None


def _store(
    session: Session,
    meter_id: int,
    sequence: int,
    signed: list[SignedReading],
    payload: bytes,
    signature: bytes,
    now: datetime,
) -> BatchResult:
    payload_sha256 = hashlib.sha256(payload).digest()
    meter = lock_meter_for_ingest(session, meter_id)
    if meter is None:  # removed between the checks and the lock: meters are never deleted
        raise not_found("meter", meter_id)
    if not meter.active:
        session.rollback()
        raise ApiError(403, "meter_inactive", f"meter {meter_id} is deactivated")

    previous = session.scalar(
        select(IngestBatch).where(
            IngestBatch.meter_id == meter_id, IngestBatch.sequence == sequence
        )
    )
    if previous is not None:
        session.rollback()
        if previous.payload_sha256 != payload_sha256:
            raise conflict(
                "sequence", f"sequence {sequence} was already used for a different batch"
            )
        return _result(previous, replayed=True)

    latest = stored_latest(session, meter_id, [r.start_s for r in signed], meter.interval_s)
    value_column = "energy_wh" if signed[0].kind == ValueKind.ENERGY_WH else "temperature_centi_c"
    rows: list[dict[str, object]] = []
    accepted = duplicate = corrected = 0
    seen: set[int] = set()
    for r in signed:
        if r.start_s in seen:  # repeated inside the batch with the same value (validated)
            duplicate += 1
            continue
        seen.add(r.start_s)
        stored = latest.get(r.start_s)
        if stored is None:
            revision, supersedes_id = 0, None
            accepted += 1
        elif stored.value == r.value and not stored.imported:
            duplicate += 1
            continue
        else:
            # A device-signed value supersedes an imported one even when equal: signed data
            # wins (docs/ingest-signing.md, "Historical imports").
            revision, supersedes_id = stored.revision + 1, stored.reading_id
            corrected += 1
        rows.append(
            {
                "meter_id": meter_id,
                "start_at": dt(r.start_s),
                "end_at": dt(r.end_s),
                value_column: r.value,
                "revision": revision,
                "supersedes_id": supersedes_id,
            }
        )

    record = IngestBatch(
        meter_id=meter_id,
        sequence=sequence,
        payload=payload,
        payload_sha256=payload_sha256,
        signature=signature,
        received_at=now,
        reading_count=len(signed),
        accepted_count=accepted,
        duplicate_count=duplicate,
        corrected_count=corrected,
    )
    session.add(record)
    session.flush()
    if rows:
        for row in rows:
            row["batch_id"] = record.id
        bulk_insert(session, Reading.__table__, rows)
        record_changes(session, meter_id, rows)
        enqueue(session, "batch", [record.id])
    session.commit()
    return _result(record, replayed=False)


def record_changes(session: Session, meter_id: int, rows: list[dict[str, object]]) -> None:
    days = sorted({row["start_at"].date() for row in rows})  # type: ignore[attr-defined]
    statement = upsert(session, ReadingChange)
    statement = statement.on_conflict_do_update(
        index_elements=["meter_id", "utc_day"],
        set_={"version": ReadingChange.version + 1},
    )
    session.execute(statement, [{"meter_id": meter_id, "utc_day": d, "version": 1} for d in days])


@dataclass(frozen=True)
class Change:
    meter_id: int
    utc_day: date
    version: int


def pending_changes(session: Session, limit: int) -> list[Change]:
    """(meter, UTC day) pairs whose readings changed since they were last acknowledged."""
    rows = session.execute(
        select(ReadingChange.meter_id, ReadingChange.utc_day, ReadingChange.version)
        .order_by(ReadingChange.meter_id, ReadingChange.utc_day)
        .limit(limit)
    )
    return [Change(*row) for row in rows]


def acknowledge_changes(session: Session, changes: list[Change]) -> None:
    """Forget changes that were processed; one that changed again since stays pending."""
    for change in changes:
        session.execute(
            delete(ReadingChange).where(
                ReadingChange.meter_id == change.meter_id,
                ReadingChange.utc_day == change.utc_day,
                ReadingChange.version == change.version,
            )
        )


def latest_values(
    session: Session, meter_id: int, start: datetime, end: datetime
) -> list[tuple[int, int, int, bool]]:
    """(start epoch s, value, revision, imported) of the latest revision of each interval
    starting in [start, end); ``imported``: it came from an issuer's import."""
    rows = session.execute(
        select(
            Reading.start_at,
            Reading.revision,
            Reading.energy_wh,
            Reading.temperature_centi_c,
            Reading.import_id,
        ).where(Reading.meter_id == meter_id, Reading.start_at >= start, Reading.start_at < end)
    )
    latest: dict[int, tuple[int, int, int, bool]] = {}
    for start_at, revision, energy_wh, temperature, import_id in rows:
        key = int(start_at.timestamp())
        if key not in latest or revision > latest[key][2]:
            value = energy_wh if energy_wh is not None else temperature
            latest[key] = (key, value, revision, import_id is not None)
    return list(latest.values())


def _result(record: IngestBatch, replayed: bool) -> BatchResult:
    return BatchResult(
        batch_id=record.id,
        sequence=record.sequence,
        accepted=record.accepted_count,
        duplicate=record.duplicate_count,
        corrected=record.corrected_count,
        replayed=replayed,
    )


def list_readings(
    session: Session,
    meter_id: int,
    start_from: datetime | None,
    start_to: datetime | None,
    all_revisions: bool,
    limit: int,
    cursor: str | None,
) -> Rows[Reading]:
    """A meter's readings ordered by (start, revision); by default only the latest revision of
    each interval. ``start_to`` is exclusive. The cursor is ``<start epoch s>:<revision>``."""
    get_meter(session, meter_id)
    query = select(Reading).where(Reading.meter_id == meter_id)
    if start_from is not None:
        query = query.where(Reading.start_at >= start_from)
    if start_to is not None:
        query = query.where(Reading.start_at < start_to)
    if not all_revisions:
        newer = aliased(Reading)
        query = query.where(
            ~exists().where(
                and_(
                    newer.meter_id == Reading.meter_id,
                    newer.start_at == Reading.start_at,
                    newer.revision > Reading.revision,
                )
            )
        )
    if cursor is not None:
        try:
            start_s, revision = (int(part) for part in cursor.split(":"))
            after = dt(start_s)
            if not 0 <= revision <= DB_INT_MAX:  # no revision is, and PostgreSQL can't bind it
                raise ValueError(revision)
        except (ValueError, OverflowError, OSError):
            raise unprocessable(
                [FieldError("cursor", "is not a cursor this API returned")]
            ) from None
        query = query.where(
            (Reading.start_at > after)
            | and_(Reading.start_at == after, Reading.revision > revision)
        )
    rows = list(
        session.scalars(query.order_by(Reading.start_at, Reading.revision).limit(limit + 1))
    )
    return cut(rows, limit, lambda last: f"{int(last.start_at.timestamp())}:{last.revision}")


class ReadingRecord(NamedTuple):
    """A stored reading with what its log leaf needs from the batch it came in."""

    id: int
    meter_id: int
    start_at: datetime
    end_at: datetime
    energy_wh: int | None
    temperature_centi_c: int | None
    revision: int
    supersedes_id: int | None
    batch_id: int | None
    batch_sequence: int  # 0 for an imported reading
    batch_sha256: bytes  # an imported reading: the imported file's SHA-256
    import_id: int | None


def reading_records(
    session: Session,
    reading_ids: list[int] | None = None,
    batch_ids: list[int] | None = None,
    import_ids: list[int] | None = None,
) -> list[ReadingRecord]:
    """Readings by id, or all readings stored by these batches or imports; in (batch, id)
    order."""
    query = select(
        Reading.id,
        Reading.meter_id,
        Reading.start_at,
        Reading.end_at,
        Reading.energy_wh,
        Reading.temperature_centi_c,
        Reading.revision,
        Reading.supersedes_id,
        Reading.batch_id,
        func.coalesce(IngestBatch.sequence, 0),
        func.coalesce(IngestBatch.payload_sha256, ReadingImport.sha256),
        Reading.import_id,
    )
    query = query.outerjoin(IngestBatch, IngestBatch.id == Reading.batch_id).outerjoin(
        ReadingImport, ReadingImport.id == Reading.import_id
    )
    if reading_ids is not None:
        query = query.where(Reading.id.in_(reading_ids))
    if batch_ids is not None:
        query = query.where(Reading.batch_id.in_(batch_ids))
    if import_ids is not None:
        query = query.where(Reading.import_id.in_(import_ids))
    rows = session.execute(query.order_by(Reading.batch_id, Reading.id))
    return [ReadingRecord(*row) for row in rows]


def superseding_imported(session: Session, reading_ids: list[int]) -> set[int]:
    """Which of these readings are device-signed revisions of an imported reading (the
    ``conflict_with_import`` marker)."""
    if not reading_ids:
        return set()
    older = aliased(Reading)
    return set(
        session.scalars(
            select(Reading.id)
            .join(older, older.id == Reading.supersedes_id)
            .where(
                Reading.id.in_(reading_ids),
                Reading.batch_id.is_not(None),
                older.import_id.is_not(None),
            )
        )
    )


def batch_payload(session: Session, batch_sha256: bytes) -> tuple[int, bytes, bytes] | None:
    """(meter id, canonical bytes, signature) of the signed batch with this hash."""
    row = session.execute(
        select(IngestBatch.meter_id, IngestBatch.payload, IngestBatch.signature).where(
            IngestBatch.payload_sha256 == batch_sha256
        )
    ).first()
    return None if row is None else (row[0], row[1], row[2])

"""Ingestion tables. All are append-only: rows are inserted, never updated or deleted."""

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigId, UtcDateTime


class IngestBatch(Base):
    """A signed batch exactly as the meter signed it, so its signature can be re-checked forever
    (even for readings that were duplicates and so never became a row of their own)."""

    __tablename__ = "ingest_batch"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id"))
    sequence: Mapped[int] = mapped_column(BigInteger)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    payload_sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reading_count: Mapped[int] = mapped_column(Integer)
    accepted_count: Mapped[int] = mapped_column(Integer)
    duplicate_count: Mapped[int] = mapped_column(Integer)
    corrected_count: Mapped[int] = mapped_column(Integer)

    __table_args__ = (UniqueConstraint("meter_id", "sequence"),)


class ReadingChange(Base):
    """Change feed for downstream jobs: which (meter, UTC day) received new revisions. Written
    in the ingest transaction; ``version`` grows with every change so a consumer acknowledges
    exactly what it processed (a change that lands meanwhile stays pending)."""

    __tablename__ = "reading_change"

    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id"), primary_key=True)
    utc_day: Mapped[date] = mapped_column(Date, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


class Reading(Base):
    """One revision of a meter's value for [start_at, end_at). Revision 0 is the first value;
    a correction is revision n+1 and names the revision it supersedes."""

    __tablename__ = "reading"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id"))
    start_at: Mapped[datetime] = mapped_column(UtcDateTime)
    end_at: Mapped[datetime] = mapped_column(UtcDateTime)
    energy_wh: Mapped[int | None] = mapped_column(BigInteger)
    temperature_centi_c: Mapped[int | None] = mapped_column(Integer)
    revision: Mapped[int] = mapped_column(Integer)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("reading.id"))
    # A device-signed reading names its signed batch; an imported one its import (exactly one).
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_batch.id"), index=True)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("reading_import.id"), index=True)

    __table_args__ = (
        UniqueConstraint("meter_id", "start_at", "revision"),
        CheckConstraint("(batch_id IS NULL) <> (import_id IS NULL)", name="signed_batch_or_import"),
        CheckConstraint(
            "(energy_wh IS NULL) <> (temperature_centi_c IS NULL)", name="exactly_one_value"
        ),
        CheckConstraint("energy_wh IS NULL OR energy_wh >= 0", name="energy_not_negative"),
        CheckConstraint("end_at > start_at", name="interval_not_empty"),
        CheckConstraint(
            "(revision = 0) = (supersedes_id IS NULL)", name="correction_names_superseded"
        ),
    )


class ReadingImport(Base):
    """A historical file imported by the issuer (docs/ingest-signing.md, "Historical imports"):
    attested by the admin who imported it, not signed by a device. ``row_count`` is what it
    stored (readings naming it, or billing periods); ``conflict_count`` the intervals it left
    out because a device-signed reading already had them. ``first_start``/``last_end`` span the
    file's rows (UTC; a bill file's dates at UTC midnight)."""

    __tablename__ = "reading_import"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id"))
    sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    format: Mapped[str] = mapped_column(String(32))
    imported_by: Mapped[str] = mapped_column(String(200))
    # The X-Imported-By header as given: the person behind the admin credential.
    imported_by_person: Mapped[str | None] = mapped_column(String(200))
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime)
    row_count: Mapped[int] = mapped_column(Integer)
    conflict_count: Mapped[int] = mapped_column(Integer)
    duplicate_count: Mapped[int] = mapped_column(Integer)
    first_start: Mapped[datetime] = mapped_column(UtcDateTime)
    last_end: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (UniqueConstraint("meter_id", "sha256"),)


class BillingPeriod(Base):
    """One imported bill: ``energy_wh`` from ``period_start`` (included) to ``period_end``
    (excluded, the next read date)."""

    __tablename__ = "billing_period"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id"), index=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    energy_wh: Mapped[int] = mapped_column(BigInteger)
    import_id: Mapped[int] = mapped_column(ForeignKey("reading_import.id"), index=True)

    __table_args__ = (
        CheckConstraint("period_end > period_start", name="period_not_empty"),
        CheckConstraint("energy_wh >= 0", name="energy_not_negative"),
    )

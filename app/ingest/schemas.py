"""Ingestion request and response bodies."""

from datetime import datetime
from typing import Annotated

from pydantic import Field, StrictInt

from app.core.schemas import Output, Rfc3339Time, StrictInput

INT63 = 2**62  # keeps every value inside a signed 64-bit column with room for sums
BoundedInt = Annotated[StrictInt, Field(gt=-INT63, lt=INT63)]


class ReadingIn(StrictInput):
    start: Rfc3339Time = Field(
        description="Interval start (inclusive), RFC 3339 with `Z` or `+HH:MM`; whole seconds.",
        examples=["2026-04-01T00:00:00Z"],
    )
    end: Rfc3339Time = Field(
        description="Interval end (exclusive).", examples=["2026-04-01T00:30:00Z"]
    )
    energy_wh: BoundedInt | None = Field(
        default=None,
        description="Energy in the interval, integer watt-hours (consumption or generation "
        "meters). Give exactly one of energy_wh and temperature_centi_c.",
        examples=[5230],
    )
    temperature_centi_c: BoundedInt | None = Field(
        default=None,
        description="Mean outdoor temperature in the interval, integer hundredths of a degree "
        "Celsius (outdoor_temperature meters).",
    )


class BatchIn(StrictInput):
    sequence: StrictInt = Field(
        ge=0,
        lt=2**63,
        description="The meter's batch number. Resending the same batch with the same number "
        "is safe; a different batch under a used number is refused (409).",
    )
    readings: list[ReadingIn] = Field(min_length=1)
    signature_hex: str | None = Field(
        default=None,
        description="Ed25519 signature (64 bytes, hex) over the batch's canonical bytes "
        "(docs/ingest-signing.md).",
    )


class BatchResult(Output):
    batch_id: int
    sequence: int
    accepted: int = Field(description="New readings stored (first value for their interval).")
    duplicate: int = Field(description="Readings identical to the stored value: nothing stored.")
    corrected: int = Field(description="Readings that changed a stored value: new revision.")
    replayed: bool = Field(description="True when this exact batch had been stored before.")


class ReadingOut(Output):
    id: int
    meter_id: int
    start: datetime
    end: datetime
    energy_wh: int | None
    temperature_centi_c: int | None
    revision: int
    supersedes_id: int | None
    batch_id: int | None = Field(description="The signed batch that stored it (null if imported).")
    import_id: int | None = Field(
        description="The historical import that stored it (issuer-attested; null if signed)."
    )
    conflict_with_import: bool = Field(
        description="A device-signed revision that superseded an imported reading."
    )


class ImportResult(Output):
    import_id: int
    meter_id: int
    sha256: str = Field(
        description="SHA-256 of the file (hex): the same file again is this import."
    )
    format: str = Field(description="csv_intervals, csv_billing or green_button.")
    imported_by: str = Field(description="The credential the import was made with (admin).")
    imported_by_person: str | None = Field(
        description="The X-Imported-By header as given (the person), or null."
    )
    imported_at: datetime
    rows: int = Field(
        description="Rows stored: interval readings naming this import, or billing periods."
    )
    conflicts: int = Field(
        description="Intervals not imported because a device-signed reading has them."
    )
    duplicates: int = Field(
        description="Intervals another import had already stored with the same value."
    )
    first_start: datetime = Field(description="Start of the file's first row (UTC).")
    last_end: datetime = Field(description="End of the file's last row (UTC, excluded).")

"""Rules a signed batch must satisfy before anything is stored. Pure: no I/O, no clock."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from app.pure.signing import SignedReading, ValueKind

KIND_OF_QUANTITY = {
    "consumption": ValueKind.ENERGY_WH,
    "generation": ValueKind.ENERGY_WH,
    "outdoor_temperature": ValueKind.TEMPERATURE_CENTI_C,
}
FIELD_OF_KIND = {
    ValueKind.ENERGY_WH: "energy_wh",
    ValueKind.TEMPERATURE_CENTI_C: "temperature_centi_c",
}


@dataclass(frozen=True)
class ItemError:
    index: int
    field: str
    reason: str


@dataclass(frozen=True)
class ReadingsFloor:
    """The earliest interval start a meter's readings may have, and why (the reason a client
    sees when a reading starts earlier)."""

    start_s: int
    reason: str

    @classmethod
    def of(cls, installed_at: datetime | None, earliest_reading: datetime) -> "ReadingsFloor":
        """The meter's installation time if it has one, else the service's earliest date."""
        if installed_at is not None:
            return cls(
                int(installed_at.timestamp()),
                f"is before the meter's installation ({_iso(installed_at)})",
            )
        return cls(
            int(earliest_reading.timestamp()),
            f"is before {_iso(earliest_reading)}, the earliest reading accepted from a meter "
            "registered without installed_at (GBT_INGEST_EARLIEST_READING)",
        )


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def validate_readings(
    readings: Sequence[SignedReading],
    quantity: str,
    interval_s: int,
    now_s: int,
    max_clock_skew_s: int,
    floor: ReadingsFloor,
) -> list[ItemError]:
    """Every problem with every reading, in index order (an empty list means the batch is valid).

    Intervals are aligned to the Unix epoch, i.e. to UTC midnight, because ``interval_s``
    divides a day.
    """
    errors: list[ItemError] = []
    expected_kind = KIND_OF_QUANTITY[quantity]
    latest_allowed_start = now_s + max_clock_skew_s
    first_value_at: dict[int, tuple[int, int]] = {}
    for i, r in enumerate(readings):
        if r.kind != expected_kind:
            errors.append(
                ItemError(
                    i,
                    FIELD_OF_KIND[r.kind],
                    f"wrong quantity: this meter measures {quantity}, "
                    f"send {FIELD_OF_KIND[expected_kind]}",
                )
            )
        elif r.kind == ValueKind.ENERGY_WH and r.value < 0:
            errors.append(ItemError(i, "energy_wh", "energy must not be negative"))
        if r.end_s <= r.start_s:
            errors.append(ItemError(i, "end", "must be after start"))
        elif r.end_s - r.start_s != interval_s:
            errors.append(
                ItemError(
                    i,
                    "end",
                    f"interval is {r.end_s - r.start_s} s; this meter's interval is {interval_s} s",
                )
            )
        if r.start_s % interval_s:
            errors.append(
                ItemError(i, "start", f"not aligned to the meter's {interval_s} s interval grid")
            )
        if r.start_s < floor.start_s:
            errors.append(ItemError(i, "start", floor.reason))
        elif r.start_s > latest_allowed_start:
            errors.append(
                ItemError(
                    i,
                    "start",
                    f"is {r.start_s - now_s} s in the future (allowed: {max_clock_skew_s} s)",
                )
            )
        earlier = first_value_at.setdefault(r.start_s, (i, r.value))
        if earlier[0] != i and earlier[1] != r.value:
            errors.append(
                ItemError(
                    i,
                    "start",
                    f"same interval as reading {earlier[0]} of this batch with a different value",
                )
            )
    return errors

"""Registry operations. Creates are idempotent on each entity's natural key: posting the same
thing twice returns the stored one; posting something different under the same key is a 409."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Row, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.db import Base, utcnow
from app.core.errors import ApiError, FieldError, conflict, not_found, unprocessable
from app.core.pagination import Rows, keyset_page
from app.outbox.service import enqueue
from app.registry.models import Allocation, Bond, GreenAsset, Meter
from app.registry.schemas import (
    AllocationCreate,
    AllocationReportDetails,
    AssetCreate,
    AssetReportDetails,
    BondCreate,
    BondReportDetails,
    MeterCreate,
)

M = TypeVar("M", bound=Base)


@dataclass(frozen=True)
class Created:
    """A create's outcome: ``created`` is False when an identical entity already existed."""

    entity: Any
    created: bool


def _same_or_conflict(existing: Base, body: dict[str, Any], key: str) -> Created:
    differing = [f for f, v in body.items() if getattr(existing, f) != v]
    if differing:
        raise ApiError(
            409,
            "conflict",
            f"{key} {body[key]!r} already exists with different values",
            [FieldError(f, f"differs from the stored value for this {key}") for f in differing],
        )
    return Created(existing, created=False)


def _insert_or_get(
    session: Session, model: type[M], body: dict[str, Any], key: str, log_kind: str | None = None
) -> Created:
    """``log_kind``: the new entity is also a leaf of the verifiable log (same transaction)."""
    existing = session.scalar(select(model).where(getattr(model, key) == body[key]))
    if existing is not None:
        return _same_or_conflict(existing, body, key)
    entity = model(**body, created_at=utcnow())
    session.add(entity)
    try:
        if log_kind is not None:
            session.flush()
            enqueue(session, log_kind, [entity.id])  # type: ignore[attr-defined]
        session.commit()
    except IntegrityError:
        # A concurrent request created the same key between our read and our insert.
        session.rollback()
        existing = session.scalar(select(model).where(getattr(model, key) == body[key]))
        if existing is None:
            raise
        return _same_or_conflict(existing, body, key)
    return Created(entity, created=True)


def _get(session: Session, model: type[M], ident: int, what: str) -> M:
    entity = session.get(model, ident)
    if entity is None:
        raise not_found(what, ident)
    return entity


# Bonds


def create_bond(session: Session, data: BondCreate) -> Created:
    if data.maturity_date <= data.issue_date:
        raise unprocessable([FieldError("maturity_date", "must be after issue_date")])
    return _insert_or_get(session, Bond, data.model_dump(), "code")


def get_bond(session: Session, bond_id: int) -> Bond:
    return _get(session, Bond, bond_id, "bond")


def list_bonds(session: Session, limit: int, cursor: str | None) -> Rows[Bond]:
    return keyset_page(session, select(Bond), Bond.id, limit, cursor)


# Assets


def create_asset(session: Session, data: AssetCreate) -> Created:
    if data.kind == "building" and data.floor_area_m2 is None:
        raise unprocessable([FieldError("floor_area_m2", "is required for a building")])
    return _insert_or_get(session, GreenAsset, data.model_dump(), "code")


def get_asset(session: Session, asset_id: int) -> GreenAsset:
    return _get(session, GreenAsset, asset_id, "asset")


def list_assets(session: Session, limit: int, cursor: str | None) -> Rows[GreenAsset]:
    return keyset_page(session, select(GreenAsset), GreenAsset.id, limit, cursor)


# Allocations


def _sum(session: Session, column: Any, condition: Any) -> Decimal:
    return Decimal(session.scalar(select(func.coalesce(func.sum(column), 0)).where(condition)))


def create_allocation(session: Session, data: AllocationCreate) -> Created:
    bond = session.get(Bond, data.bond_id)
    asset = session.scalar(
        select(GreenAsset).where(GreenAsset.id == data.asset_id).with_for_update()
    )
    missing = []
    if bond is None:
        missing.append(FieldError("bond_id", f"bond {data.bond_id} does not exist"))
    if asset is None:
        missing.append(FieldError("asset_id", f"asset {data.asset_id} does not exist"))
    if missing:
        raise unprocessable(missing)
    assert bond is not None

    existing = session.scalar(
        select(Allocation).where(
            Allocation.bond_id == data.bond_id, Allocation.asset_id == data.asset_id
        )
    )
    body = data.model_dump()
    if existing is not None:
        session.rollback()
        return _same_or_conflict(existing, body, "bond_id")

    # The asset row lock above serialises allocations of one asset, so these sums are exact.
    share_taken = _sum(session, Allocation.financing_share, Allocation.asset_id == data.asset_id)
    if share_taken + data.financing_share > 1:
        session.rollback()
        raise unprocessable(
            [
                FieldError(
                    "financing_share",
                    f"shares of asset {data.asset_id} would total "
                    f"{share_taken + data.financing_share}, above 1 (100%)",
                )
            ]
        )
    amount_taken = _sum(session, Allocation.amount_allocated, Allocation.bond_id == data.bond_id)
    if amount_taken + data.amount_allocated > bond.amount_issued:
        session.rollback()
        raise unprocessable(
            [
                FieldError(
                    "amount_allocated",
                    f"allocations of bond {data.bond_id} would total "
                    f"{amount_taken + data.amount_allocated}, "
                    f"above the amount issued {bond.amount_issued}",
                )
            ]
        )
    allocation = Allocation(**body, created_at=utcnow())
    session.add(allocation)
    try:
        session.flush()
        enqueue(session, "allocation", [allocation.id])
        session.commit()
    except IntegrityError:
        session.rollback()
        raise conflict("bond_id", "this bond already has an allocation to this asset") from None
    return Created(allocation, created=True)


def get_allocation(session: Session, allocation_id: int) -> Allocation:
    return _get(session, Allocation, allocation_id, "allocation")


def list_allocations(
    session: Session,
    limit: int,
    cursor: str | None,
    bond_id: int | None = None,
    asset_id: int | None = None,
) -> Rows[Allocation]:
    query = select(Allocation)
    if bond_id is not None:
        query = query.where(Allocation.bond_id == bond_id)
    if asset_id is not None:
        query = query.where(Allocation.asset_id == asset_id)
    return keyset_page(session, query, Allocation.id, limit, cursor)


# Meters


def create_meter(session: Session, data: MeterCreate, earliest_reading: datetime) -> Created:
    """``earliest_reading``: no meter is installed before the earliest reading the service
    accepts (``GBT_INGEST_EARLIEST_READING``)."""
    errors = []
    if session.get(GreenAsset, data.asset_id) is None:
        errors.append(FieldError("asset_id", f"asset {data.asset_id} does not exist"))
    if data.installed_at is not None and data.installed_at < earliest_reading:
        errors.append(
            FieldError(
                "installed_at",
                f"is before {earliest_reading.isoformat().replace('+00:00', 'Z')}, the earliest "
                "reading time this service accepts (GBT_INGEST_EARLIEST_READING)",
            )
        )
    if errors:
        raise unprocessable(errors)
    return _insert_or_get(session, Meter, data.model_dump(), "device_id", log_kind="meter_key")


def get_meter(session: Session, meter_id: int) -> Meter:
    return _get(session, Meter, meter_id, "meter")


def find_meter(session: Session, meter_id: int) -> Meter | None:
    return session.get(Meter, meter_id)


def list_meters(
    session: Session, limit: int, cursor: str | None, asset_id: int | None = None
) -> Rows[Meter]:
    query = select(Meter)
    if asset_id is not None:
        query = query.where(Meter.asset_id == asset_id)
    return keyset_page(session, query, Meter.id, limit, cursor)


def deactivate_meter(session: Session, meter_id: int) -> Meter:
    """Idempotent: deactivating an inactive meter keeps its first deactivation time."""
    meter = session.scalar(select(Meter).where(Meter.id == meter_id).with_for_update())
    if meter is None:
        raise not_found("meter", meter_id)
    if meter.active:
        meter.active = False
        meter.deactivated_at = utcnow()
        enqueue(session, "meter_revoked", [meter.id])
    session.commit()
    return meter


@dataclass(frozen=True)
class IngestMeter:
    """What ingestion needs to know about a meter."""

    id: int
    quantity: str
    interval_s: int
    public_key_hex: str
    active: bool


def lock_meter_for_ingest(session: Session, meter_id: int) -> IngestMeter | None:
    """Row-lock the meter for the rest of the transaction, so batches of one meter apply one at a
    time (revision numbers stay gapless) while different meters ingest in parallel."""
    meter = session.scalar(select(Meter).where(Meter.id == meter_id).with_for_update())
    if meter is None:
        return None
    return IngestMeter(
        meter.id, meter.quantity, meter.interval_s, meter.public_key_hex, meter.active
    )


def meters_of_asset(session: Session, asset_id: int) -> list[Meter]:
    return list(session.scalars(select(Meter).where(Meter.asset_id == asset_id).order_by(Meter.id)))


def allocations_of_bond(session: Session, bond_id: int) -> list[Allocation]:
    return list(
        session.scalars(
            select(Allocation).where(Allocation.bond_id == bond_id).order_by(Allocation.id)
        )
    )


def bonds_by_ids(session: Session, ids: list[int]) -> dict[int, Bond]:
    return {b.id: b for b in session.scalars(select(Bond).where(Bond.id.in_(ids)))}


def meters_by_ids(session: Session, ids: list[int]) -> dict[int, Meter]:
    return {m.id: m for m in session.scalars(select(Meter).where(Meter.id.in_(ids)))}


def assets_by_ids(session: Session, ids: list[int]) -> dict[int, GreenAsset]:
    return {a.id: a for a in session.scalars(select(GreenAsset).where(GreenAsset.id.in_(ids)))}


def allocations_by_ids(session: Session, ids: list[int]) -> dict[int, tuple[Allocation, Bond]]:
    rows = session.execute(
        select(Allocation, Bond)
        .join(Bond, Bond.id == Allocation.bond_id)
        .where(Allocation.id.in_(ids))
    )
    return {a.id: (a, b) for a, b in rows}


def proceeds_of_bond(session: Session, bond_id: int) -> list[Row[Any]]:
    """The bond's allocations with their asset's name, as plain rows (asset_id, asset_name,
    amount_allocated, financing_share): what a bond summary lists, without loading a thousand
    entities."""
    return list(
        session.execute(
            select(
                Allocation.asset_id,
                GreenAsset.name.label("asset_name"),
                Allocation.amount_allocated,
                Allocation.financing_share,
            )
            .join(GreenAsset, GreenAsset.id == Allocation.asset_id)
            .where(Allocation.bond_id == bond_id)
            .order_by(Allocation.id)
        )
    )


def allocation_stamp(session: Session, bond_id: int) -> tuple[int, int]:
    """(how many allocations the bond has, the newest one's id): allocations are append-only
    and assets never change, so this identifies ``proceeds_of_bond`` exactly."""
    count, newest = session.execute(
        select(func.count(), func.coalesce(func.max(Allocation.id), 0)).where(
            Allocation.bond_id == bond_id
        )
    ).one()
    return int(count), int(newest)


def count_allocations(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Allocation)) or 0


def list_all_allocations(session: Session) -> list[Allocation]:
    return list(session.scalars(select(Allocation).order_by(Allocation.id)))


def allocations_of_asset(session: Session, asset_id: int) -> list[Allocation]:
    return list(
        session.scalars(
            select(Allocation).where(Allocation.asset_id == asset_id).order_by(Allocation.id)
        )
    )


# Report details (PUT: the whole set is replaced; the same body twice changes nothing)


def set_bond_report_details(session: Session, bond_id: int, data: BondReportDetails) -> Bond:
    bond = get_bond(session, bond_id)
    bond.unallocated_held_as = data.unallocated_held_as
    session.commit()
    return bond


def set_asset_report_details(
    session: Session, asset_id: int, data: AssetReportDetails
) -> GreenAsset:
    asset = get_asset(session, asset_id)
    if data.capacity_kw is not None and asset.kind != "renewable_facility":
        raise unprocessable(
            [
                FieldError(
                    "capacity_kw", f"asset {asset_id} is a {asset.kind}, not a renewable plant"
                )
            ]
        )
    asset.location, asset.description = data.location, data.description
    asset.capacity_kw = data.capacity_kw
    session.commit()
    return asset


def set_allocation_report_details(
    session: Session, allocation_id: int, data: AllocationReportDetails
) -> Allocation:
    allocation = get_allocation(session, allocation_id)
    errors = []
    if data.project_cost is not None and data.project_cost < allocation.amount_allocated:
        errors.append(
            FieldError(
                "project_cost",
                f"{data.project_cost} is less than the amount allocated "
                f"({allocation.amount_allocated})",
            )
        )
    if data.lookback_years is not None and not data.refinancing:
        errors.append(FieldError("lookback_years", "only a refinancing has a look-back period"))
    if data.refinancing and data.lookback_years is None:
        errors.append(FieldError("lookback_years", "is required for a refinancing"))
    if errors:
        raise unprocessable(errors)
    for name, value in data.model_dump().items():
        setattr(allocation, name, value)
    session.commit()
    return allocation

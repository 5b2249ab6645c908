"""Admin API: bonds, assets, allocations, meters. Every route needs the admin bearer token."""

from fastapi import APIRouter, Depends, Request, Response, status

from app.core.deps import CursorQuery, IdFilter, IdPath, LimitQuery, SessionDep
from app.core.schemas import Page
from app.core.security import require_admin
from app.registry import service
from app.registry.schemas import (
    AllocationCreate,
    AllocationOut,
    AllocationReportDetails,
    AssetCreate,
    AssetOut,
    AssetReportDetails,
    BondCreate,
    BondOut,
    BondReportDetails,
    MeterCreate,
    MeterOut,
)

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[Depends(require_admin)])

CREATED_DOC = "201 when created; 200 when the identical entity already existed (safe to retry)."


def _status(response: Response, outcome: service.Created) -> None:
    response.status_code = status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK


@router.post("/bonds", response_model=BondOut, status_code=201, description=CREATED_DOC)
def create_bond(body: BondCreate, session: SessionDep, response: Response) -> BondOut:
    outcome = service.create_bond(session, body)
    _status(response, outcome)
    return BondOut.model_validate(outcome.entity)


@router.get("/bonds", response_model=Page[BondOut])
def list_bonds(
    session: SessionDep, limit: LimitQuery = 100, cursor: CursorQuery = None
) -> Page[BondOut]:
    return service.list_bonds(session, limit, cursor).page(BondOut.model_validate)


@router.get("/bonds/{bond_id}", response_model=BondOut)
def get_bond(bond_id: IdPath, session: SessionDep) -> BondOut:
    return BondOut.model_validate(service.get_bond(session, bond_id))


@router.post("/assets", response_model=AssetOut, status_code=201, description=CREATED_DOC)
def create_asset(body: AssetCreate, session: SessionDep, response: Response) -> AssetOut:
    outcome = service.create_asset(session, body)
    _status(response, outcome)
    return AssetOut.model_validate(outcome.entity)


@router.get("/assets", response_model=Page[AssetOut])
def list_assets(
    session: SessionDep, limit: LimitQuery = 100, cursor: CursorQuery = None
) -> Page[AssetOut]:
    return service.list_assets(session, limit, cursor).page(AssetOut.model_validate)


@router.get("/assets/{asset_id}", response_model=AssetOut)
def get_asset(asset_id: IdPath, session: SessionDep) -> AssetOut:
    return AssetOut.model_validate(service.get_asset(session, asset_id))


@router.post("/allocations", response_model=AllocationOut, status_code=201, description=CREATED_DOC)
def create_allocation(
    body: AllocationCreate, session: SessionDep, response: Response
) -> AllocationOut:
    outcome = service.create_allocation(session, body)
    _status(response, outcome)
    return AllocationOut.model_validate(outcome.entity)


@router.get("/allocations", response_model=Page[AllocationOut])
def list_allocations(
    session: SessionDep,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
    bond_id: IdFilter = None,
    asset_id: IdFilter = None,
) -> Page[AllocationOut]:
    return service.list_allocations(session, limit, cursor, bond_id, asset_id).page(
        AllocationOut.model_validate
    )


@router.get("/allocations/{allocation_id}", response_model=AllocationOut)
def get_allocation(allocation_id: IdPath, session: SessionDep) -> AllocationOut:
    return AllocationOut.model_validate(service.get_allocation(session, allocation_id))


@router.post("/meters", response_model=MeterOut, status_code=201, description=CREATED_DOC)
def create_meter(
    body: MeterCreate, session: SessionDep, request: Request, response: Response
) -> MeterOut:
    outcome = service.create_meter(session, body, request.app.state.ingest_limits.earliest_reading)
    _status(response, outcome)
    return MeterOut.model_validate(outcome.entity)


@router.get("/meters", response_model=Page[MeterOut])
def list_meters(
    session: SessionDep,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
    asset_id: IdFilter = None,
) -> Page[MeterOut]:
    return service.list_meters(session, limit, cursor, asset_id).page(MeterOut.model_validate)


@router.get("/meters/{meter_id}", response_model=MeterOut)
def get_meter(meter_id: IdPath, session: SessionDep) -> MeterOut:
    return MeterOut.model_validate(service.get_meter(session, meter_id))


@router.post(
    "/meters/{meter_id}/deactivate",
    response_model=MeterOut,
    description="Stop accepting readings from this meter. Idempotent.",
)
def deactivate_meter(meter_id: IdPath, session: SessionDep) -> MeterOut:
    return MeterOut.model_validate(service.deactivate_meter(session, meter_id))


REPORT_DETAILS_DOC = (
    "What the issuer declares for its green bond reports (docs/reporting.md); the body "
    "replaces the stored set, so the same PUT twice changes nothing."
)


@router.put(
    "/bonds/{bond_id}/report-details",
    response_model=BondReportDetails,
    description=REPORT_DETAILS_DOC,
)
def put_bond_report_details(
    bond_id: IdPath, body: BondReportDetails, session: SessionDep
) -> BondReportDetails:
    bond = service.set_bond_report_details(session, bond_id, body)
    return BondReportDetails.model_validate(bond, from_attributes=True)


@router.put(
    "/assets/{asset_id}/report-details",
    response_model=AssetReportDetails,
    description=REPORT_DETAILS_DOC,
)
def put_asset_report_details(
    asset_id: IdPath, body: AssetReportDetails, session: SessionDep
) -> AssetReportDetails:
    asset = service.set_asset_report_details(session, asset_id, body)
    return AssetReportDetails.model_validate(asset, from_attributes=True)


@router.put(
    "/allocations/{allocation_id}/report-details",
    response_model=AllocationReportDetails,
    description=REPORT_DETAILS_DOC,
)
def put_allocation_report_details(
    allocation_id: IdPath, body: AllocationReportDetails, session: SessionDep
) -> AllocationReportDetails:
    allocation = service.set_allocation_report_details(session, allocation_id, body)
    return AllocationReportDetails.model_validate(allocation, from_attributes=True)

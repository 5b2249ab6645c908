"""Investor read API: public or with a read-only investor key (never the admin token). Every
answer carries an ETag and Cache-Control; lists are paged with `limit` and `cursor`."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response

from app.audit import service as audit
from app.audit.schemas import ProofBundle
from app.core.deps import (
    CheckpointNumberPath,
    CursorQuery,
    FirstDay,
    IdPath,
    LastDay,
    LimitQuery,
    Period,
    SessionDep,
)
from app.core.http_cache import cached_json
from app.core.pagination import page, series_start
from app.core.schemas import DB_ID_MAX, Page
from app.core.security import require_investor
from app.investor import service
from app.investor.schemas import (
    AssetPeriodFigures,
    BondPeriodFigures,
    CheckpointListItem,
    CheckpointSummary,
    InvestorAsset,
    InvestorBond,
    InvestorBondDetail,
    Methodology,
)
from app.pure.encoding import LeafKind
from app.registry import service as registry

router = APIRouter(
    prefix="/v1/investor", tags=["investor"], dependencies=[Depends(require_investor)]
)

NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified (If-None-Match matched the ETag)"}
}


@router.get("/bonds", summary="Bonds", response_model=Page[InvestorBond], responses=NOT_MODIFIED)
def list_bonds(
    request: Request, session: SessionDep, limit: LimitQuery = 100, cursor: CursorQuery = None
) -> Response:
    bonds = registry.list_bonds(session, limit, cursor)
    return cached_json(request, bonds.page(InvestorBond.model_validate))


@router.get(
    "/bonds/{bond_id}",
    summary="A bond: allocation of proceeds, impact since issuance, anchored totals",
    description="Impact in kWh and t-CO2, for the financed assets in total and attributed to "
    "the bond (its share of each asset's financing). `anchored_totals` are the bond's "
    "cumulative totals in the latest confirmed checkpoint, read from the contract on chain "
    "(`read_from_chain`; when the chain cannot be read, no figure and a `chain_error`); "
    "`impact_since_issuance` "
    "also counts days not yet anchored (and provisional ones, flagged).",
    response_model=InvestorBondDetail,
    responses=NOT_MODIFIED,
)
def bond(request: Request, session: SessionDep, bond_id: IdPath) -> Response:
    return cached_json(request, service.bond_detail(session, bond_id, request.app.state.anchored))


@router.get(
    "/bonds/{bond_id}/impact",
    summary="A bond's impact per period",
    response_model=Page[BondPeriodFigures],
    responses=NOT_MODIFIED,
)
def bond_impact(
    request: Request,
    session: SessionDep,
    bond_id: IdPath,
    period: Period = "month",
    first_day: FirstDay = None,
    last_day: LastDay = None,
    limit: LimitQuery = 400,
    cursor: CursorQuery = None,
) -> Response:
    first = series_start(cursor, first_day)
    items = service.bond_series(session, bond_id, period, first, last_day)
    return cached_json(request, page(items, limit, lambda item: item.period_start))


@router.get(
    "/assets/{asset_id}",
    summary="A green asset",
    response_model=InvestorAsset,
    responses=NOT_MODIFIED,
)
def asset(request: Request, session: SessionDep, asset_id: IdPath) -> Response:
    return cached_json(request, service.asset_detail(session, asset_id))


@router.get(
    "/assets/{asset_id}/series",
    summary="An asset's metered, benchmark, reduction, CO2, coverage and flags per period",
    description="Each item says whether it is `provisional` (may still change), `pending` "
    "(final, not yet in a confirmed checkpoint) or `anchored` (and in which checkpoint).",
    response_model=Page[AssetPeriodFigures],
    responses=NOT_MODIFIED,
)
def asset_series(
    request: Request,
    session: SessionDep,
    asset_id: IdPath,
    period: Period = "day",
    first_day: FirstDay = None,
    last_day: LastDay = None,
    limit: LimitQuery = 400,
    cursor: CursorQuery = None,
) -> Response:
    first = series_start(cursor, first_day)
    items = service.series(session, asset_id, period, first, last_day)
    return cached_json(request, page(items, limit, lambda item: item.period_start))


@router.get(
    "/assets/{asset_id}/methodology",
    summary="Benchmark method and parameters, baseline fits, emission factors, attribution",
    response_model=Methodology,
    responses=NOT_MODIFIED,
)
def methodology(request: Request, session: SessionDep, asset_id: IdPath) -> Response:
    return cached_json(request, service.methodology(session, asset_id))


@router.get(
    "/checkpoints",
    summary="Checkpoints on chain, newest first",
    response_model=Page[CheckpointListItem],
    responses=NOT_MODIFIED,
)
def checkpoints(
    request: Request, session: SessionDep, limit: LimitQuery = 100, cursor: CursorQuery = None
) -> Response:
    anchored = request.app.state.anchored
    return cached_json(request, service.checkpoint_page(session, limit, cursor, anchored))


@router.get(
    "/checkpoints/{number}",
    summary="A confirmed checkpoint",
    response_model=CheckpointSummary,
    responses=NOT_MODIFIED,
)
def checkpoint(request: Request, session: SessionDep, number: CheckpointNumberPath) -> Response:
    anchored = request.app.state.anchored
    return cached_json(request, service.checkpoint(session, number, anchored))


@router.get(
    "/proofs/{kind}/{ref_id}",
    response_model=ProofBundle,
    summary="Proof bundle of one leaf, with investor access",
    description="The same bundle as the auditor API's `/v1/audit/proofs/{kind}/{ref_id}` "
    "(docs/audit-bundle.md): the leaf, the latest confirmed checkpoint that includes it and the "
    "inclusion proof (a reading's also carries its signed batch). The dashboard checks it in "
    "the browser; `gbt-verify bundle` checks it too. 404 `not_anchored` while pending.",
    responses=NOT_MODIFIED,
)
def proof(
    request: Request,
    session: SessionDep,
    kind: LeafKind,
    ref_id: Annotated[int, Path(ge=1, le=DB_ID_MAX)],
) -> Response:
    return cached_json(request, audit.proof_bundle(session, kind, ref_id))

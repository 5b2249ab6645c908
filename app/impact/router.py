"""Admin API for the impact calculation: benchmarks, emission factors, results, recomputes."""

import json
from datetime import timedelta

from fastapi import APIRouter, Depends, Request, Response, status

from app.core.db import utcnow
from app.core.deps import FirstDay, IdPath, LastDay, Period, SessionDep
from app.core.errors import ApiError
from app.core.locks import try_exclusive
from app.core.security import require_admin
from app.impact import configs, factors, queries, resolution, result_rows, results
from app.impact.jobs import LOCK_NAME as IMPACT_LOCK
from app.impact.models import BenchmarkConfig, ImpactResult
from app.impact.schemas import (
    BenchmarkConfigCreate,
    BenchmarkConfigOut,
    BondImpactOut,
    EmissionFactorCreate,
    EmissionFactorOut,
    ImpactResultOut,
    RecomputeRequest,
    RecomputeResult,
)

RECOMPUTE_WAIT_S = 30.0

router = APIRouter(prefix="/v1/admin", tags=["impact"], dependencies=[Depends(require_admin)])


def _config_out(config: BenchmarkConfig) -> BenchmarkConfigOut:
    return BenchmarkConfigOut(
        id=config.id,
        asset_id=config.asset_id,
        effective_from=config.effective_from,
        method=config.method,
        params=json.loads(config.params_json),
        created_at=config.created_at,
    )


def result_out(row: ImpactResult) -> ImpactResultOut:
    figures = result_rows.to_period_result(row)
    return ImpactResultOut(
        id=row.id,
        asset_id=row.asset_id,
        period=figures.period,
        period_start=row.period_start,
        revision=row.revision,
        supersedes_id=row.supersedes_id,
        final=row.final,
        metered_wh=row.metered_wh,
        benchmark_wh=row.benchmark_wh,
        reduction_wh=row.reduction_wh,
        co2_avoided_g=row.co2_avoided_g,
        coverage=figures.coverage,
        intervals_present=row.intervals_present,
        intervals_expected=row.intervals_expected,
        flags=list(figures.flags),
        method=row.method,
        method_version=row.method_version,
        benchmark_config_id=row.benchmark_config_id,
        baseline_fit_id=row.baseline_fit_id,
        emission_factor_ids=list(figures.factor_ids),
        computed_at=row.computed_at,
        savings_uncertainty_68_wh=row.savings_uncertainty_68_wh,
        savings_uncertainty_90_wh=row.savings_uncertainty_90_wh,
    )


@router.post(
    "/assets/{asset_id}/benchmarks",
    response_model=BenchmarkConfigOut,
    status_code=201,
    summary="Configure an asset's benchmark from a date on",
    description="Configurations are never changed: a new method or parameter takes effect "
    "from a new `effective_from`. The identical body again is 200.",
)
def create_benchmark(
    asset_id: IdPath,
    body: BenchmarkConfigCreate,
    session: SessionDep,
    request: Request,
    response: Response,
) -> BenchmarkConfigOut:
    config, created = configs.create_benchmark_config(
        session, asset_id, body, request.app.state.ingest_limits.earliest_reading
    )
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return _config_out(config)


@router.get("/assets/{asset_id}/benchmarks", response_model=list[BenchmarkConfigOut])
def list_benchmarks(asset_id: IdPath, session: SessionDep) -> list[BenchmarkConfigOut]:
    return [_config_out(c) for c in configs.benchmark_configs(session, asset_id)]


@router.get(
    "/benchmarks/{config_id}/baseline-fits",
    summary="Every fit a baseline configuration produced (latest last), with its metrics",
)
def list_baseline_fits(config_id: IdPath, session: SessionDep) -> list[dict[str, object]]:
    return [
        {
            "id": f.id,
            "benchmark_config_id": f.benchmark_config_id,
            "summary": f.summary,
            "fit": resolution.fit_disclosure(f),
            "computed_at": f.computed_at,
        }
        for f in resolution.baseline_fits(session, config_id)
    ]


@router.post(
    "/emission-factors",
    response_model=EmissionFactorOut,
    status_code=201,
    summary="Publish an emission factor version",
    description="Existing results keep the version they recorded; an explicit recompute "
    "applies the new one as new revisions.",
)
def create_emission_factor(
    body: EmissionFactorCreate, session: SessionDep, response: Response
) -> EmissionFactorOut:
    factor, created = factors.create_emission_factor(session, body)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return EmissionFactorOut.model_validate(factor)


@router.get("/emission-factors", response_model=list[EmissionFactorOut])
def list_emission_factors(
    session: SessionDep, region: str | None = None
) -> list[EmissionFactorOut]:
    return [EmissionFactorOut.model_validate(f) for f in factors.emission_factors(session, region)]


@router.get("/assets/{asset_id}/results", response_model=list[ImpactResultOut])
def list_results(
    asset_id: IdPath,
    session: SessionDep,
    period: Period = "day",
    first_day: FirstDay = None,
    last_day: LastDay = None,
    all_revisions: bool = False,
) -> list[ImpactResultOut]:
    rows = queries.list_results(session, asset_id, period, first_day, last_day, all_revisions)
    return [result_out(r) for r in rows]


@router.post(
    "/assets/{asset_id}/recompute",
    response_model=RecomputeResult,
    summary="Recompute an asset's results for a range of days",
    description="Final results that change get a new revision; earlier revisions stay.",
)
def recompute(
    asset_id: IdPath, body: RecomputeRequest, session: SessionDep, request: Request
) -> RecomputeResult:
    results.check_recompute_range(body.first_day, body.last_day)
    span = (body.last_day - body.first_day).days
    days = [body.first_day + timedelta(days=n) for n in range(span + 1)]
    # The impact job and other recomputes write the same result rows: take turns.
    with try_exclusive(request.app.state.engine, IMPACT_LOCK, wait_s=RECOMPUTE_WAIT_S) as held:
        if not held:
            raise ApiError(
                503,
                "busy",
                "the impact job or another recompute is running; retry shortly",
                headers={"Retry-After": "5"},
            )
        stats = results.recompute_asset(
            session,
            asset_id,
            days,
            utcnow(),
            request.app.state.impact_grace,
            refresh_factors=body.refresh_factors,
        )
        session.commit()
    return RecomputeResult(days_recomputed=stats.days, new_revisions=stats.new_revisions)


@router.get("/bonds/{bond_id}/impact", response_model=BondImpactOut)
def bond_impact(
    bond_id: IdPath,
    session: SessionDep,
    period: Period = "month",
    first_day: FirstDay = None,
    last_day: LastDay = None,
) -> BondImpactOut:
    items = queries.bond_impact(session, bond_id, period, first_day, last_day)
    return BondImpactOut(bond_id=bond_id, period=period, items=items)

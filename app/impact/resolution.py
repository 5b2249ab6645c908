"""Method resolution: which benchmark method a configuration means for an asset, with the
reference values it resolves to and, for a baseline, its current CalTRACK fit.
"""

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.impact.configs import canonical_json, reference_intensities
from app.impact.meter_days import day_totals
from app.impact.models import (
    BaselineFitRecord,
    BenchmarkConfig,
)
from app.pure.calc.baseline import BaselineFit
from app.pure.calc.days import mean_temperature_c
from app.pure.calc.methods import (
    BASELINE_DAYS,
    ENERGY_QUANTITY,
    BaselineMethod,
    GenerationMethod,
    IntensityMethod,
    Method,
    SeriesMethod,
    fit_baseline_period,
)
from app.pure.calc.results import (
    fit_summary,
)
from app.registry import service as registry
from app.registry.models import GreenAsset, Meter


@dataclass(frozen=True)
class ResolvedConfig:
    config: BenchmarkConfig
    method: Method
    baseline_fit_id: int | None


def _fit_from_json(fit_json: str | None) -> BaselineFit | None:
    return None if fit_json is None else BaselineFit(**json.loads(fit_json))


def resolve(session: Session, asset: GreenAsset, config: BenchmarkConfig) -> ResolvedConfig:
    params = json.loads(config.params_json)
    if config.method == "intensity":
        value = params.get("kwh_per_m2_year")
        if value is None:
            value = reference_intensities()[params["building_type"]]["kwh_per_m2_year"]
        assert asset.floor_area_m2 is not None
        return ResolvedConfig(config, IntensityMethod(Decimal(value), asset.floor_area_m2), None)
    if config.method == "series":
        values = {date.fromisoformat(v["period_start"]): v["energy_wh"] for v in params["values"]}
        if params["granularity"] == "day":
            return ResolvedConfig(config, SeriesMethod(daily_wh=values), None)
        monthly = {(d.year, d.month): v for d, v in values.items()}
        return ResolvedConfig(config, SeriesMethod(monthly_wh=monthly), None)
    if config.method == "generation":
        return ResolvedConfig(config, GenerationMethod(), None)
    record = _current_fit(session, asset, config, params)
    return ResolvedConfig(config, BaselineMethod(_fit_from_json(record.fit_json)), record.id)


def _current_fit(
    session: Session, asset: GreenAsset, config: BenchmarkConfig, params: dict[str, Any]
) -> BaselineFitRecord:
    """The fit of the baseline period's current data; refitted only when that data changed."""
    first = date.fromisoformat(params["baseline_start"])
    last = first + timedelta(days=BASELINE_DAYS - 1)
    energy_meters = meters_of_energy(session, asset)
    temperature_meter = registry.get_meter(session, params["temperature_meter_id"])
    energy = day_totals(session, energy_meters, asset.timezone, first, last)
    temps = {
        t.day: mean_temperature_c(t)
        for t in day_totals(session, [temperature_meter], asset.timezone, first, last)
    }
    inputs_sha256 = hashlib.sha256(
        canonical_json([[asdict(e) for e in energy], sorted(temps.items())]).encode()
    ).hexdigest()
    latest = session.scalar(
        select(BaselineFitRecord)
        .where(BaselineFitRecord.benchmark_config_id == config.id)
        .order_by(BaselineFitRecord.id.desc())
        .limit(1)
    )
    if latest is not None and latest.inputs_sha256 == inputs_sha256:
        return latest
    fit, summary = fit_baseline_period(energy, temps)
    record = BaselineFitRecord(
        benchmark_config_id=config.id,
        inputs_sha256=inputs_sha256,
        fit_json=None if fit is None else canonical_json(asdict(fit)),
        summary=summary,
        computed_at=utcnow(),
    )
    session.add(record)
    session.flush()
    return record


def fit_disclosure(record: BaselineFitRecord) -> dict[str, object] | None:
    return fit_summary(_fit_from_json(record.fit_json))


def baseline_fits(session: Session, config_id: int) -> list[BaselineFitRecord]:
    return list(
        session.scalars(
            select(BaselineFitRecord)
            .where(BaselineFitRecord.benchmark_config_id == config_id)
            .order_by(BaselineFitRecord.id)
        )
    )


def meters_of_energy(session: Session, asset: GreenAsset) -> list[Meter]:
    quantity = ENERGY_QUANTITY[asset.kind]
    return [m for m in registry.meters_of_asset(session, asset.id) if m.quantity == quantity]


def baseline_window(config: BenchmarkConfig) -> tuple[date, date] | None:
    if config.method != "baseline":
        return None
    first = date.fromisoformat(json.loads(config.params_json)["baseline_start"])
    return first, first + timedelta(days=BASELINE_DAYS - 1)

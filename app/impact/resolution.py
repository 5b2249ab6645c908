"""Method resolution: which benchmark method a configuration means for an asset, with the
reference values it resolves to and, for a baseline, its current CalTRACK fit.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from functools import partial
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
from app.ingest.imports import billing_periods
from app.pure.calc.baseline import BaselineFit
from app.pure.calc.billing import BillingFit, BillingPeriod
from app.pure.calc.days import mean_temperature_c
from app.pure.calc.methods import (
    ENERGY_QUANTITY,
    MeterBills,
    Method,
    baseline_window,
    fit_baseline_period,
    fit_billing_period,
    method_from_params,
    uses_bills,
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


def _fit_from_json(fit_json: str | None) -> BaselineFit | BillingFit | None:
    """A stored fit; a billing fit is the one with ``n_periods`` (its bills)."""
    if fit_json is None:
        return None
    fields = json.loads(fit_json)
    return BillingFit(**fields) if "n_periods" in fields else BaselineFit(**fields)


def resolve(session: Session, asset: GreenAsset, config: BenchmarkConfig) -> ResolvedConfig:
    params = json.loads(config.params_json)
    if config.method == "intensity" and params.get("kwh_per_m2_year") is None:
        # Configurations stored before the value was filled in at creation: the shipped one.
        reference = reference_intensities()[params["building_type"]]
        params["kwh_per_m2_year"] = reference["kwh_per_m2_year"]
    record = _current_fit(session, asset, config, params) if config.method == "baseline" else None
    fit = None if record is None else _fit_from_json(record.fit_json)
    method = method_from_params(config.method, params, asset.floor_area_m2, fit)
    return ResolvedConfig(config, method, None if record is None else record.id)


def _current_fit(
    session: Session, asset: GreenAsset, config: BenchmarkConfig, params: dict[str, Any]
) -> BaselineFitRecord:
    """The fit of the baseline period's current data (the energy meters' days, or their bills,
    and the site's temperatures); refitted only when that data changed."""
    first, last = baseline_window(params)
    energy_meters = meters_of_energy(session, asset)
    temperature_meter = registry.get_meter(session, params["temperature_meter_id"])
    temps = {
        t.day: mean_temperature_c(t)
        for t in day_totals(session, [temperature_meter], asset.timezone, first, last)
    }
    refit: Callable[[], tuple[BaselineFit | BillingFit | None, str]]
    if uses_bills(params):
        bills = _meter_bills(session, energy_meters)
        inputs: list[Any] = [[asdict(b) for b in bills], sorted(temps.items())]
        refit = partial(fit_billing_period, bills, temps, params)
    else:
        energy = day_totals(session, energy_meters, asset.timezone, first, last)
        inputs = [[asdict(e) for e in energy], sorted(temps.items())]
        refit = partial(fit_baseline_period, energy, temps)
    inputs_sha256 = hashlib.sha256(canonical_json(inputs).encode()).hexdigest()
    latest = session.scalar(
        select(BaselineFitRecord)
        .where(BaselineFitRecord.benchmark_config_id == config.id)
        .order_by(BaselineFitRecord.id.desc())
        .limit(1)
    )
    if latest is not None and latest.inputs_sha256 == inputs_sha256:
        return latest
    fit, summary = refit()
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


def _meter_bills(session: Session, meters: list[Meter]) -> list[MeterBills]:
    """The meters' bills, grouped by the import that stored them (in import order)."""
    grouped: dict[tuple[int, int], list[BillingPeriod]] = {}
    for row in billing_periods(session, [m.id for m in meters]):
        grouped.setdefault((row.import_id, row.meter_id), []).append(
            BillingPeriod(row.period_start, row.period_end, row.energy_wh)
        )
    return [MeterBills(i, m, tuple(bills)) for (i, m), bills in sorted(grouped.items())]


def fit_of_record(session: Session, fit_id: int | None) -> BaselineFit | BillingFit | None:
    """The fit a result names (None: no fit, or insufficient baseline data)."""
    record = None if fit_id is None else session.get(BaselineFitRecord, fit_id)
    return None if record is None else _fit_from_json(record.fit_json)


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


def config_baseline_window(config: BenchmarkConfig) -> tuple[date, date] | None:
    """The baseline period of a baseline configuration (None for other methods)."""
    if config.method != "baseline":
        return None
    return baseline_window(json.loads(config.params_json))

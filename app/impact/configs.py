"""Benchmark configurations of an asset (and the shipped reference intensities): create with
their date rules, list, look up.
"""

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.core.errors import ApiError, FieldError, unprocessable
from app.impact.models import (
    AssetProgress,
    BenchmarkConfig,
)
from app.impact.schemas import (
    BenchmarkConfigCreate,
)
from app.outbox.service import enqueue
from app.pure.calc.methods import (
    BASELINE_DAYS,
)
from app.registry import service as registry
from app.registry.models import GreenAsset

DATA_DIR = Path(__file__).parent / "data"


def reference_intensities() -> dict[str, dict[str, str]]:
    data = json.loads((DATA_DIR / "reference_intensities.json").read_text())
    types: dict[str, dict[str, str]] = data["building_types"]
    return types


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


# A configuration date this far after today is a typo, not a plan (bonds run for decades at most).
MAX_YEARS_AHEAD = 50


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _config_date_errors(
    body: BenchmarkConfigCreate, asset: GreenAsset, earliest: date, today: date
) -> list[FieldError]:
    """Every date of a configuration inside its sane window (docs/methodology.md): none before
    the earliest reading the service accepts, none more than MAX_YEARS_AHEAD years ahead, and
    the reporting start not before the asset's commissioning. A baseline period is exempt from
    the commissioning rule: it is the year *before* the retrofit."""
    latest = _years_after(today, MAX_YEARS_AHEAD)

    def outside(field: str, value: date) -> FieldError | None:
        if value < earliest:
            return FieldError(
                field,
                f"{value} is before {earliest}, the earliest reading date "
                "(GBT_INGEST_EARLIEST_READING): no readings, hence no results, exist before it",
            )
        if value > latest:
            return FieldError(
                field,
                f"{value} is more than {MAX_YEARS_AHEAD} years after today (latest: {latest})",
            )
        return None

    reporting = outside("effective_from", body.effective_from)
    commissioned = asset.commissioning_date
    if reporting is None and commissioned is not None and body.effective_from < commissioned:
        reporting = FieldError(
            "effective_from",
            f"{body.effective_from} is before the asset's commissioning date {commissioned}: "
            "results report the operating asset",
        )
    found = [reporting]
    params = body.params
    if params.method == "baseline":
        found.append(outside("params.baseline_start", params.baseline_start))
    elif params.method == "series":
        found += [
            outside(f"params.values[{i}].period_start", v.period_start)
            for i, v in enumerate(params.values)
        ]
    return [error for error in found if error is not None]


def create_benchmark_config(
    session: Session, asset_id: int, body: BenchmarkConfigCreate, earliest_reading: datetime
) -> tuple[BenchmarkConfig, bool]:
    """``earliest_reading``: ``GBT_INGEST_EARLIEST_READING``; its UTC date is the earliest date
    a configuration may name."""
    asset = registry.get_asset(session, asset_id)
    params = body.params
    errors = _config_date_errors(
        body, asset, earliest_reading.astimezone(UTC).date(), utcnow().date()
    )
    if errors:  # the rules below compute with these dates
        raise unprocessable(errors)
    if asset.kind == "renewable_facility" and params.method != "generation":
        errors.append(FieldError("params.method", "a renewable facility uses 'generation'"))
    if asset.kind == "building" and params.method == "generation":
        errors.append(FieldError("params.method", "'generation' is for renewable facilities"))
    references = reference_intensities()
    if (
        params.method == "intensity"
        and params.kwh_per_m2_year is None
        and params.building_type not in references
    ):
        known = ", ".join(sorted(references))
        errors.append(
            FieldError(
                "params.building_type",
                f"no shipped reference for {params.building_type!r} (known: {known}); "
                "give kwh_per_m2_year",
            )
        )
    if params.method == "baseline":
        baseline_end = params.baseline_start + timedelta(days=BASELINE_DAYS)
        if body.effective_from < baseline_end:
            errors.append(
                FieldError(
                    "effective_from",
                    f"reporting must start after the baseline year, on or after {baseline_end}",
                )
            )
        meter = registry.find_meter(session, params.temperature_meter_id)
        if meter is None or meter.asset_id != asset_id or meter.quantity != "outdoor_temperature":
            errors.append(
                FieldError(
                    "params.temperature_meter_id",
                    "must be an outdoor_temperature meter of this asset",
                )
            )
    if errors:
        raise unprocessable(errors)

    params_dict = params.model_dump(mode="json")
    if params.method == "baseline" and params.baseline_data == "days":
        # The default stays implicit: daily configurations keep the params (and log leaf) they
        # had before billing baselines existed, so repeating one is not a conflict.
        del params_dict["baseline_data"]
    if params.method == "intensity" and params.kwh_per_m2_year is None:
        # Record the reference value in force now, so the configuration (and its log leaf)
        # never changes if the shipped reference table does.
        reference = references[params.building_type]
        params_dict["kwh_per_m2_year"] = reference["kwh_per_m2_year"]
        params_dict["reference_source"] = params.reference_source or reference["source"]
    params_json = canonical_json(params_dict)
    existing = session.scalar(
        select(BenchmarkConfig).where(
            BenchmarkConfig.asset_id == asset_id,
            BenchmarkConfig.effective_from == body.effective_from,
        )
    )
    if existing is not None:
        if existing.params_json != params_json:
            raise ApiError(
                409,
                "conflict",
                f"asset {asset_id} already has a different configuration effective "
                f"{body.effective_from}; configurations are never changed, choose a new date",
                [FieldError("effective_from", "already used by a different configuration")],
            )
        return existing, False
    config = BenchmarkConfig(
        asset_id=asset_id,
        effective_from=body.effective_from,
        method=params.method,
        params_json=params_json,
        created_at=utcnow(),
    )
    session.add(config)
    session.flush()
    enqueue(session, "benchmark_config", [config.id])
    progress = session.get(AssetProgress, asset_id)
    if progress is not None and progress.results_through >= body.effective_from:
        # The job recomputes from the new configuration's first day on: days it now governs
        # get new revisions, days it opens up (before the earlier first configuration) appear.
        progress.results_through = body.effective_from - timedelta(days=1)
    session.commit()
    return config, True


def benchmark_configs(session: Session, asset_id: int) -> list[BenchmarkConfig]:
    registry.get_asset(session, asset_id)  # 404 for an unknown asset
    return list(
        session.scalars(
            select(BenchmarkConfig)
            .where(BenchmarkConfig.asset_id == asset_id)
            .order_by(BenchmarkConfig.effective_from)
        )
    )


def configs_by_ids(session: Session, ids: list[int]) -> dict[int, BenchmarkConfig]:
    rows = session.scalars(select(BenchmarkConfig).where(BenchmarkConfig.id.in_(ids)))
    return {c.id: c for c in rows}

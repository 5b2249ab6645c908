"""Impact: load inputs, run the pure calculation core, store results with revisions.

Provisional results (the period or its grace time still open) are replaced in place; a final
result never changes: a later difference becomes revision n+1 naming the one it supersedes.
"""

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, Select, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.db import in_ids, upsert, utcnow
from app.core.errors import ApiError, FieldError, unprocessable
from app.impact.calc.baseline import BaselineFit
from app.impact.calc.days import DayTotal, IntervalPoint, aggregate_days, mean_temperature_c
from app.impact.calc.factors import EmissionFactor, select_factor
from app.impact.calc.methods import (
    BASELINE_DAYS,
    ENERGY_QUANTITY,
    BaselineMethod,
    GenerationMethod,
    IntensityMethod,
    Method,
    SeriesMethod,
    fit_baseline_period,
)
from app.impact.calc.results import (
    AttributedTotals,
    PeriodResult,
    attribute,
    attributed_totals,
    day_result,
    fit_summary,
    month_result,
)
from app.impact.models import (
    AssetProgress,
    BaselineFitRecord,
    BenchmarkConfig,
    BondAssetMonth,
    BondRollupBuilt,
    EmissionFactorVersion,
    ImpactResult,
    MeterDay,
)
from app.impact.schemas import (
    BenchmarkConfigCreate,
    BondPeriodImpact,
    EmissionFactorCreate,
)
from app.ingest import service as ingest
from app.ledger.queue import enqueue
from app.registry import service as registry
from app.registry.models import Allocation, GreenAsset, Meter

log = logging.getLogger(__name__)
DATA_DIR = Path(__file__).parent / "data"


# Reference data ----------------------------------------------------------------------------


def reference_intensities() -> dict[str, dict[str, str]]:
    data = json.loads((DATA_DIR / "reference_intensities.json").read_text())
    types: dict[str, dict[str, str]] = data["building_types"]
    return types


def load_default_emission_factors(session: Session) -> int:
    """Insert the shipped default factors that are not there yet (idempotent; several
    processes starting at once may race: the loser finds them inserted and adds nothing)."""
    data = json.loads((DATA_DIR / "emission_factors_jp.json").read_text())
    added = 0
    for raw in data["factors"]:
        body = EmissionFactorCreate.model_validate(raw)
        if _find_factor(session, body) is None:
            _add_factor(session, body)
            added += 1
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return 0
    return added


# Benchmark configurations ------------------------------------------------------------------


def _canonical_json(value: Any) -> str:
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
    if params.method == "intensity" and params.kwh_per_m2_year is None:
        # Record the reference value in force now, so the configuration (and its log leaf)
        # never changes if the shipped reference table does.
        reference = references[params.building_type]
        params_dict["kwh_per_m2_year"] = reference["kwh_per_m2_year"]
        params_dict["reference_source"] = params.reference_source or reference["source"]
    params_json = _canonical_json(params_dict)
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


# Emission factors --------------------------------------------------------------------------


def _find_factor(session: Session, body: EmissionFactorCreate) -> EmissionFactorVersion | None:
    return session.scalar(
        select(EmissionFactorVersion).where(
            EmissionFactorVersion.region == body.region,
            EmissionFactorVersion.kind == body.kind,
            EmissionFactorVersion.valid_from == body.valid_from,
            EmissionFactorVersion.valid_to == body.valid_to,
            EmissionFactorVersion.published_on == body.published_on,
        )
    )


def create_emission_factor(
    session: Session, body: EmissionFactorCreate
) -> tuple[EmissionFactorVersion, bool]:
    if body.valid_to <= body.valid_from:
        raise unprocessable([FieldError("valid_to", "must be after valid_from")])
    existing = _find_factor(session, body)
    if existing is not None:
        differing = [k for k, v in body.model_dump().items() if getattr(existing, k) != v]
        if differing:
            raise ApiError(
                409,
                "conflict",
                "a factor for this region, kind, period and publication date exists with "
                "different values; publish a correction with a later published_on",
                [FieldError(k, "differs from the stored version") for k in differing],
            )
        return existing, False
    factor = _add_factor(session, body)
    session.commit()
    return factor, True


def _add_factor(session: Session, body: EmissionFactorCreate) -> EmissionFactorVersion:
    factor = EmissionFactorVersion(**body.model_dump(), created_at=utcnow())
    session.add(factor)
    session.flush()
    enqueue(session, "emission_factor", [factor.id])
    return factor


def emission_factors(session: Session, region: str | None = None) -> list[EmissionFactorVersion]:
    query = select(EmissionFactorVersion).order_by(
        EmissionFactorVersion.region, EmissionFactorVersion.valid_from, EmissionFactorVersion.id
    )
    if region is not None:
        query = query.where(EmissionFactorVersion.region == region)
    return list(session.scalars(query))


def _calc_factor(row: EmissionFactorVersion) -> EmissionFactor:
    return EmissionFactor(
        row.id,
        row.region,
        row.kind,
        row.valid_from,
        row.valid_to,
        row.kg_co2_per_kwh,
        row.published_on,
    )


# Daily totals ------------------------------------------------------------------------------


def _local_days_of_utc_day(utc_day: date, tz: ZoneInfo) -> set[date]:
    start = datetime.combine(utc_day, time(), UTC)
    return {
        start.astimezone(tz).date(),
        (start + timedelta(days=1, seconds=-1)).astimezone(tz).date(),
    }


def rebuild_meter_days(session: Session, meter: Meter, tz_name: str, days: Iterable[date]) -> None:
    """Recompute the meter's daily totals for these local days from its latest readings."""
    tz = ZoneInfo(tz_name)
    ordered = sorted(set(days))
    rows = []
    for first, last in _runs(ordered):
        start = datetime.combine(first, time(), tz)
        end = datetime.combine(last + timedelta(days=1), time(), tz)
        points = [
            IntervalPoint(s, v, r)
            for s, v, r in ingest.latest_values(session, meter.id, start, end)
        ]
        for total in aggregate_days(points, meter.interval_s, tz_name, first, last):
            rows.append(
                {
                    "meter_id": meter.id,
                    "day": total.day,
                    "value_sum": total.value_sum,
                    "present": total.present,
                    "expected": total.expected,
                    "corrected": total.corrected,
                }
            )
    if rows:
        statement = upsert(session, MeterDay)
        statement = statement.on_conflict_do_update(
            index_elements=["meter_id", "day"],
            set_={
                c: statement.excluded[c] for c in ("value_sum", "present", "expected", "corrected")
            },
        )
        session.execute(statement, rows)


def _runs(days: Sequence[date]) -> list[tuple[date, date]]:
    """Consecutive runs of sorted days: [(first, last), ...]."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _day_totals(
    session: Session, meters: Sequence[Meter], tz_name: str, first: date, last: date
) -> list[DayTotal]:
    """Summed daily totals of ``meters`` for every day in [first, last]; a day a meter never
    reported counts its expected intervals as missing."""
    stored: dict[tuple[int, date], MeterDay] = {
        (row.meter_id, row.day): row
        for row in session.scalars(
            select(MeterDay).where(
                MeterDay.meter_id.in_([m.id for m in meters]),
                MeterDay.day >= first,
                MeterDay.day <= last,
            )
        )
    }
    totals: list[DayTotal] = []
    empty_by_meter = {m.id: aggregate_days([], m.interval_s, tz_name, first, last) for m in meters}
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        value_sum = present = expected = 0
        corrected = False
        for m in meters:
            row = stored.get((m.id, day))
            value_sum += row.value_sum if row else 0
            present += row.present if row else 0
            expected += empty_by_meter[m.id][offset].expected
            corrected |= bool(row and row.corrected)
        totals.append(DayTotal(day, value_sum, present, expected, corrected))
    return totals


# Methods -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResolvedConfig:
    config: BenchmarkConfig
    method: Method
    baseline_fit_id: int | None


def _fit_from_json(fit_json: str | None) -> BaselineFit | None:
    return None if fit_json is None else BaselineFit(**json.loads(fit_json))


def _resolve(session: Session, asset: GreenAsset, config: BenchmarkConfig) -> ResolvedConfig:
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
    energy_meters = _energy_meters(session, asset)
    temperature_meter = registry.get_meter(session, params["temperature_meter_id"])
    energy = _day_totals(session, energy_meters, asset.timezone, first, last)
    temps = {
        t.day: mean_temperature_c(t)
        for t in _day_totals(session, [temperature_meter], asset.timezone, first, last)
    }
    inputs_sha256 = hashlib.sha256(
        _canonical_json([[asdict(e) for e in energy], sorted(temps.items())]).encode()
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
        fit_json=None if fit is None else _canonical_json(asdict(fit)),
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


def _energy_meters(session: Session, asset: GreenAsset) -> list[Meter]:
    quantity = ENERGY_QUANTITY[asset.kind]
    return [m for m in registry.meters_of_asset(session, asset.id) if m.quantity == quantity]


def _baseline_window(config: BenchmarkConfig) -> tuple[date, date] | None:
    if config.method != "baseline":
        return None
    first = date.fromisoformat(json.loads(config.params_json)["baseline_start"])
    return first, first + timedelta(days=BASELINE_DAYS - 1)


# Results -----------------------------------------------------------------------------------

_FIGURES = (
    "final",
    "metered_wh",
    "benchmark_wh",
    "reduction_wh",
    "co2_avoided_g",
    "intervals_present",
    "intervals_expected",
    "flags",
    "method",
    "method_version",
    "benchmark_config_id",
    "baseline_fit_id",
    "factor_ids",
)


def _row_values(result: PeriodResult, config_id: int, fit_id: int | None) -> dict[str, object]:
    return {
        "final": result.final,
        "metered_wh": result.metered_wh,
        "benchmark_wh": result.benchmark_wh,
        "reduction_wh": result.reduction_wh,
        "co2_avoided_g": result.co2_avoided_g,
        "intervals_present": result.intervals_present,
        "intervals_expected": result.intervals_expected,
        "flags": ",".join(result.flags),
        "method": result.method,
        "method_version": result.method_version,
        "benchmark_config_id": config_id,
        "baseline_fit_id": fit_id,
        "factor_ids": ",".join(str(i) for i in result.factor_ids),
    }


def _latest_results(
    session: Session, asset_id: int, period: str, starts: Iterable[date]
) -> dict[date, ImpactResult]:
    starts = sorted(set(starts))
    if not starts:
        return {}
    latest: dict[date, ImpactResult] = {}
    for row in session.scalars(
        select(ImpactResult).where(
            ImpactResult.asset_id == asset_id,
            ImpactResult.period == period,
            ImpactResult.period_start >= starts[0],
            ImpactResult.period_start <= starts[-1],
        )
    ):
        current = latest.get(row.period_start)
        if current is None or row.revision > current.revision:
            latest[row.period_start] = row
    return latest


def _store(
    session: Session,
    asset_id: int,
    result: PeriodResult,
    config_id: int,
    fit_id: int | None,
    existing: ImpactResult | None,
    now: datetime,
    finalised: list[ImpactResult],
) -> tuple[ImpactResult, bool]:
    """Returns (row, whether a new final revision was created over a final one). Rows that
    became final are appended to ``finalised``: they enter the verifiable log (provisional rows
    never do, since they may still be replaced)."""
    values = _row_values(result, config_id, fit_id)
    if existing is not None:
        unchanged = all(getattr(existing, k) == values[k] for k in _FIGURES)
        if unchanged:
            return existing, False
        if not existing.final:
            for key, value in values.items():
                setattr(existing, key, value)
            existing.computed_at = now
            if existing.final:
                finalised.append(existing)
            return existing, False
    row = ImpactResult(
        asset_id=asset_id,
        period=result.period,
        period_start=result.period_start,
        revision=0 if existing is None else existing.revision + 1,
        supersedes_id=None if existing is None else existing.id,
        computed_at=now,
        **values,
    )
    session.add(row)
    if row.final:
        finalised.append(row)
    return row, existing is not None


def to_period_result(row: ImpactResult) -> PeriodResult:
    return PeriodResult(
        period=row.period,
        period_start=row.period_start,
        metered_wh=row.metered_wh,
        benchmark_wh=row.benchmark_wh,
        reduction_wh=row.reduction_wh,
        co2_avoided_g=row.co2_avoided_g,
        intervals_present=row.intervals_present,
        intervals_expected=row.intervals_expected,
        flags=tuple(f for f in row.flags.split(",") if f),
        method=row.method,
        method_version=row.method_version,
        factor_ids=tuple(int(i) for i in row.factor_ids.split(",") if i),
        final=row.final,
    )


def _closed(period_end_local: date, tz: ZoneInfo, grace: timedelta, now: datetime) -> bool:
    """A period is closed (its results final) once its end plus the grace time has passed."""
    return datetime.combine(period_end_local, time(), tz) + grace <= now


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


@dataclass
class RecomputeStats:
    days: int = 0
    new_revisions: int = 0


# Whole months of days recomputed per transaction. A first run over years of history (or a
# decade's recompute) commits each chunk, so it never holds the database's write lock for long
# (SQLite has one for the whole database): at most 92 day results, 3 month results, their
# roll-ups and log queue rows per commit.
MONTHS_PER_TRANSACTION = 3


def _month_chunks(days: Iterable[date], months: int) -> list[list[date]]:
    """The days, sorted, in consecutive groups spanning at most ``months`` calendar months each;
    a month is never split."""
    chunks: list[list[date]] = []
    chunk_months: set[date] = set()
    for day in sorted(set(days)):
        month = day.replace(day=1)
        if not chunks or (month not in chunk_months and len(chunk_months) == months):
            chunks.append([])
            chunk_months = set()
        chunk_months.add(month)
        chunks[-1].append(day)
    return chunks


def recompute_asset(
    session: Session,
    asset_id: int,
    days: Iterable[date],
    now: datetime,
    grace: timedelta,
    refresh_factors: bool = False,
    before_commit: Callable[[date], None] | None = None,
) -> RecomputeStats:
    """Recompute these local days of the asset (and the months they fall in); days before the
    first benchmark configuration or after today (local) are skipped.

    Works through the days in date order, MONTHS_PER_TRANSACTION months at a time, and commits
    each chunk; ``before_commit`` gets the chunk's last day and may write in its transaction
    (the job's progress marker: an interrupted run resumes after the last committed chunk).
    The figures are those of a single pass: days are independent, and a month is never split,
    so its result always sums all its days."""
    stats = RecomputeStats()
    for chunk in _month_chunks(days, MONTHS_PER_TRANSACTION):
        done = _recompute_days(session, asset_id, chunk, now, grace, refresh_factors)
        stats.days += done.days
        stats.new_revisions += done.new_revisions
        if before_commit is not None:
            before_commit(chunk[-1])
        session.commit()
    return stats


def _recompute_days(
    session: Session,
    asset_id: int,
    days: Iterable[date],
    now: datetime,
    grace: timedelta,
    refresh_factors: bool,
) -> RecomputeStats:
    """One transaction's worth of :func:`recompute_asset`, not committed."""
    asset = registry.get_asset(session, asset_id)
    tz = ZoneInfo(asset.timezone)
    today = now.astimezone(tz).date()
    configs = benchmark_configs(session, asset_id)
    stats = RecomputeStats()
    finalised: list[ImpactResult] = []
    if not configs:
        return stats
    first_day = configs[0].effective_from
    wanted = sorted(d for d in set(days) if first_day <= d <= today)
    if not wanted:
        return stats
    wanted = _with_missing_days_of_their_months(session, asset_id, wanted, first_day, today)

    energy_meters = _energy_meters(session, asset)
    factors = [_calc_factor(f) for f in emission_factors(session, asset.grid_region)]
    by_id = {f.id: f for f in factors}
    existing_days = _latest_results(session, asset_id, "day", wanted)
    resolved: dict[int, ResolvedConfig] = {}
    temperature_meters = {}
    for config in configs:
        if config.method == "baseline":
            meter_id = json.loads(config.params_json)["temperature_meter_id"]
            temperature_meters[config.id] = registry.get_meter(session, meter_id)

    months: set[date] = set()
    for first, last in _runs(wanted):
        energy = _day_totals(session, energy_meters, asset.timezone, first, last)
        temps_cache: dict[int, dict[date, float | None]] = {}
        for total in energy:
            config = max(
                (c for c in configs if c.effective_from <= total.day),
                key=lambda c: c.effective_from,
            )
            if config.id not in resolved:
                resolved[config.id] = _resolve(session, asset, config)
            current = resolved[config.id]
            temperature = None
            if config.id in temperature_meters:
                if config.id not in temps_cache:
                    temps_cache[config.id] = {
                        t.day: mean_temperature_c(t)
                        for t in _day_totals(
                            session, [temperature_meters[config.id]], asset.timezone, first, last
                        )
                    }
                temperature = temps_cache[config.id][total.day]
            existing = existing_days.get(total.day)
            factor = None
            pinned = to_period_result(existing).factor_ids if existing else ()
            if pinned and not refresh_factors and pinned[0] in by_id:
                factor = by_id[pinned[0]]
            else:
                factor = select_factor(factors, asset.grid_region, total.day)
            day_end = total.day + timedelta(days=1)
            ended = _closed(day_end, tz, timedelta(0), now)
            final = _closed(day_end, tz, grace, now)
            result = day_result(total, temperature, current.method, factor, ended, final)
            _, revised = _store(
                session,
                asset_id,
                result,
                config.id,
                current.baseline_fit_id,
                existing,
                now,
                finalised,
            )
            stats.days += 1
            stats.new_revisions += int(revised)
            months.add(total.day.replace(day=1))
    session.flush()
    stats.new_revisions += _recompute_months(
        session, asset_id, months, tz, grace, now, today, finalised
    )
    session.flush()
    enqueue(session, "result", [row.id for row in finalised])
    return stats


def _with_missing_days_of_their_months(
    session: Session, asset_id: int, days: list[date], first_day: date, today: date
) -> list[date]:
    """A month's result sums all its days, so days of the touched months that have no result
    yet (a meter that was silent) are computed in the same pass: a month is never summed, let
    alone finalised, from some of its days."""
    wanted = set(days)
    for month in {d.replace(day=1) for d in days}:
        first = max(month, first_day)
        last = min(_next_month(month) - timedelta(days=1), today)
        span = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        have = _latest_results(session, asset_id, "day", span)
        wanted |= {d for d in span if d not in have}
    return sorted(wanted)


def _recompute_months(
    session: Session,
    asset_id: int,
    months: Iterable[date],
    tz: ZoneInfo,
    grace: timedelta,
    now: datetime,
    today: date,
    finalised: list[ImpactResult],
) -> int:
    revisions = 0
    existing_months = _latest_results(session, asset_id, "month", months)
    allocations = registry.allocations_of_asset(session, asset_id)
    for month in sorted(months):
        end = _next_month(month)
        last_day = min(end - timedelta(days=1), today)
        day_rows = _latest_results(
            session,
            asset_id,
            "day",
            [month + timedelta(days=i) for i in range((last_day - month).days + 1)],
        )
        if not day_rows:
            continue
        days = [to_period_result(day_rows[d]) for d in sorted(day_rows)]
        ended = _closed(end, tz, timedelta(0), now)
        final = _closed(end, tz, grace, now) and all(d.final for d in days)
        result = month_result(days, ended, final)
        latest_day = day_rows[max(day_rows)]
        _, revised = _store(
            session,
            asset_id,
            result,
            latest_day.benchmark_config_id,
            latest_day.baseline_fit_id,
            existing_months.get(month),
            now,
            finalised,
        )
        revisions += int(revised)
        _roll_up_month(session, asset_id, month, days, allocations)
    return revisions


# Bond roll-ups -----------------------------------------------------------------------------


def _roll_up_month(
    session: Session,
    asset_id: int,
    month: date,
    days: Sequence[PeriodResult],
    allocations: Sequence[Allocation],
) -> None:
    """Write the month's ``bond_asset_month`` rows for these allocations of the asset, from the
    month's day results (latest revisions)."""
    for allocation in allocations:
        issued = registry.get_bond(session, allocation.bond_id).issue_date
        values = _rollup_values(days, allocation, issued)
        key = {"bond_id": allocation.bond_id, "asset_id": asset_id, "month_start": month}
        session.execute(
            upsert(session, BondAssetMonth.__table__)
            .values(**key, **values)
            .on_conflict_do_update(index_elements=list(key), set_=values)
        )


ROLLUP_FIELDS = (
    "reduction_wh",
    "co2_avoided_g",
    "attributed_reduction_wh",
    "attributed_co2_avoided_g",
    "days",
    "provisional_days",
)


def _rollup_values(
    days: Sequence[PeriodResult], allocation: Allocation, issued: date
) -> dict[str, int]:
    """A ``bond_asset_month`` row's figures: the month's day results (latest revisions) from
    the bond's issue date on, attributed by the allocation's financing share."""
    since_issue = [d for d in days if d.period_start >= issued]
    totals = attributed_totals(since_issue, allocation.financing_share)
    return {name: getattr(totals, name) for name in ROLLUP_FIELDS}


@dataclass(frozen=True)
class RollupMismatch:
    """A ``bond_asset_month`` row that is not what the day results give (``found`` None: the
    row is missing; ``expected`` None: the row should not exist)."""

    bond_id: int
    asset_id: int
    month_start: date
    field: str
    expected: int | None
    found: int | None


def verify_rollups(session: Session, limit: int = 100) -> tuple[int, list[RollupMismatch]]:
    """Recompute every bond roll-up row from the day results it summarises and compare.
    Returns (rows checked, the first ``limit`` mismatches). Two queries per asset; O(day
    results), not O(readings)."""
    built = set(session.scalars(select(BondRollupBuilt.allocation_id)))
    allocations: dict[int, list[Allocation]] = defaultdict(list)
    for each in registry.list_all_allocations(session):
        allocations[each.asset_id].append(each)
    issue_dates: dict[int, date] = {}
    stored: dict[int, dict[tuple[int, date], Any]] = defaultdict(dict)
    for stored_row in session.scalars(select(BondAssetMonth)):
        stored[stored_row.asset_id][(stored_row.bond_id, stored_row.month_start)] = stored_row
    checked = 0
    mismatches: list[RollupMismatch] = []
    for asset_id in sorted(set(allocations) | set(stored)):
        latest: dict[date, ImpactResult] = {}
        month_starts: set[date] = set()
        for result in session.scalars(
            select(ImpactResult).where(
                ImpactResult.asset_id == asset_id, ImpactResult.period.in_(("day", "month"))
            )
        ):
            if result.period == "month":
                month_starts.add(result.period_start)
                continue
            current = latest.get(result.period_start)
            if current is None or result.revision > current.revision:
                latest[result.period_start] = result
        days_of: dict[date, list[PeriodResult]] = defaultdict(list)
        for day in sorted(latest):
            days_of[day.replace(day=1)].append(to_period_result(latest[day]))
        rows = stored.get(asset_id, {})
        by_bond = {a.bond_id: a for a in allocations.get(asset_id, [])}
        expected_keys = {
            (a.bond_id, month) for a in by_bond.values() if a.id in built for month in month_starts
        }
        for key in sorted(set(rows) | expected_keys):
            bond_id, month = key
            row = rows.get(key)
            allocation = by_bond.get(bond_id)
            checked += 1
            if allocation is None:
                mismatches.append(RollupMismatch(bond_id, asset_id, month, "row", None, 1))
                continue
            if bond_id not in issue_dates:
                issue_dates[bond_id] = registry.get_bond(session, bond_id).issue_date
            expected = _rollup_values(days_of.get(month, []), allocation, issue_dates[bond_id])
            if row is None:
                mismatches.append(RollupMismatch(bond_id, asset_id, month, "row", 1, None))
                continue
            for name in ROLLUP_FIELDS:
                if getattr(row, name) != expected[name]:
                    mismatches.append(
                        RollupMismatch(
                            bond_id, asset_id, month, name, expected[name], getattr(row, name)
                        )
                    )
        if len(mismatches) >= limit:
            break
    return checked, mismatches[:limit]


def build_new_allocation_rollups(session: Session) -> int:
    """Roll up the months an asset already has for allocations created since the last pass.
    Returns the allocations rolled up."""
    built_count = session.scalar(select(func.count()).select_from(BondRollupBuilt)) or 0
    if registry.count_allocations(session) == built_count:
        return 0  # every job pass asks; almost always nothing is new
    built = set(session.scalars(select(BondRollupBuilt.allocation_id)))
    new = [a for a in registry.list_all_allocations(session) if a.id not in built]
    for allocation in new:
        months = session.scalars(
            select(ImpactResult.period_start)
            .where(ImpactResult.asset_id == allocation.asset_id, ImpactResult.period == "month")
            .distinct()
        )
        for month in months:
            span = (_next_month(month) - month).days
            day_rows = _latest_results(
                session,
                allocation.asset_id,
                "day",
                [month + timedelta(days=i) for i in range(span)],
            )
            days = [to_period_result(day_rows[d]) for d in sorted(day_rows)]
            _roll_up_month(session, allocation.asset_id, month, days, [allocation])
        session.add(BondRollupBuilt(allocation_id=allocation.id))
    session.commit()
    return len(new)


# Job steps ---------------------------------------------------------------------------------


def process_reading_changes(
    session: Session, now: datetime, grace: timedelta, limit: int = 5000
) -> int:
    """Fold newly ingested readings into daily totals and results. Returns changes processed."""
    changes = ingest.pending_changes(session, limit)
    if not changes:
        return 0
    by_meter: dict[int, list[date]] = defaultdict(list)
    for change in changes:
        by_meter[change.meter_id].append(change.utc_day)
    asset_days: dict[int, set[date]] = defaultdict(set)
    for meter_id, utc_days in by_meter.items():
        meter = registry.get_meter(session, meter_id)
        asset = registry.get_asset(session, meter.asset_id)
        tz = ZoneInfo(asset.timezone)
        local_days = set().union(*(_local_days_of_utc_day(d, tz) for d in utc_days))
        rebuild_meter_days(session, meter, asset.timezone, local_days)
        asset_days[asset.id] |= local_days
    session.flush()
    for asset_id, days in asset_days.items():
        recompute_asset(
            session, asset_id, _with_baseline_dependents(session, asset_id, days, now), now, grace
        )
    ingest.acknowledge_changes(session, changes)
    session.commit()
    return len(changes)


def _with_baseline_dependents(
    session: Session, asset_id: int, days: set[date], now: datetime
) -> set[date]:
    """A change inside a baseline year changes the fit, hence every day that uses it."""
    configs = benchmark_configs(session, asset_id)
    extra: set[date] = set()
    for i, config in enumerate(configs):
        window = _baseline_window(config)
        if window and any(window[0] <= d <= window[1] for d in days):
            until = (
                configs[i + 1].effective_from
                if i + 1 < len(configs)
                else now.date() + timedelta(days=1)
            )
            extra |= {
                config.effective_from + timedelta(days=n)
                for n in range((until - config.effective_from).days + 1)
            }
    return days | extra


def advance_time(session: Session, now: datetime, grace: timedelta) -> int:
    """Create results for days that began since the last pass (so silent meters show as gaps),
    and recompute provisional days that ended (no longer "the day so far") or closed (final).
    Returns days computed."""
    computed = 0
    provisional: dict[int, list[tuple[date, bool]]] = defaultdict(list)
    for asset_id, start, flags in session.execute(
        select(ImpactResult.asset_id, ImpactResult.period_start, ImpactResult.flags).where(
            ImpactResult.final.is_(False), ImpactResult.period == "day"
        )
    ):
        provisional[asset_id].append((start, "incomplete" in flags.split(",")))
    progress = {p.asset_id: p for p in session.scalars(select(AssetProgress))}
    first_configs: dict[int, date] = {
        asset_id: first
        for asset_id, first in session.execute(
            select(BenchmarkConfig.asset_id, func.min(BenchmarkConfig.effective_from)).group_by(
                BenchmarkConfig.asset_id
            )
        )
    }
    for asset_id, first_day in first_configs.items():
        asset = registry.get_asset(session, asset_id)
        tz = ZoneInfo(asset.timezone)
        today = now.astimezone(tz).date()
        row = progress.get(asset_id)
        start = first_day if row is None else row.results_through + timedelta(days=1)
        due = {start + timedelta(days=n) for n in range((today - start).days + 1)}
        for day, marked_incomplete in provisional.get(asset_id, ()):
            day_end = day + timedelta(days=1)
            if _closed(day_end, tz, grace, now) or (
                marked_incomplete and _closed(day_end, tz, timedelta(0), now)
            ):
                due.add(day)
        if not due:
            continue

        marker = _ProgressMarker(asset_id, None if row is None else row.results_through, first_day)
        computed += recompute_asset(
            session, asset_id, due, now, grace, before_commit=partial(marker.advance, session)
        ).days
        marker.advance(session, today)
    session.commit()
    return computed


@dataclass
class _ProgressMarker:
    """An asset's progress marker as one pass of the job moves it forward, chunk by chunk.

    Between two chunks an admin may create a configuration that moves the marker back (to
    recompute the days it governs). The pass must not then move it forward over days it
    computed with the old configuration: it advances the marker only from the value it last
    saw (compare and set), and stops advancing once someone else has moved it; the next pass
    starts from there."""

    asset_id: int
    seen: date | None  # None: the asset had no marker when the pass began
    first_config_day: date  # where a pass without a marker started
    moved_by_someone_else: bool = False

    def advance(self, session: Session, day: date) -> None:
        """Every due day up to ``day`` has its results (computed in date order)."""
        if self.moved_by_someone_else:
            return
        if self.seen is None:
            first = session.scalar(
                select(func.min(BenchmarkConfig.effective_from)).where(
                    BenchmarkConfig.asset_id == self.asset_id
                )
            )
            if first is not None and first < self.first_config_day:
                self.moved_by_someone_else = True  # a configuration reaching further back
                return
            session.add(AssetProgress(asset_id=self.asset_id, results_through=day))
            session.flush()
            self.seen = day
            return
        target = max(self.seen, day)
        moved = session.execute(
            update(AssetProgress)
            .where(
                AssetProgress.asset_id == self.asset_id,
                AssetProgress.results_through == self.seen,
            )
            .values(results_through=target)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount == 1:  # type: ignore[attr-defined]
            self.seen = target
        else:
            self.moved_by_someone_else = True


# Queries -----------------------------------------------------------------------------------


def _asset_periods(
    query: Select[Any], asset_id: int, period: str, first: date | None, last: date | None
) -> Select[Any]:
    """The asset's results of that period kind in [first, last], by period and revision."""
    query = query.where(ImpactResult.asset_id == asset_id, ImpactResult.period == period)
    if first is not None:
        query = query.where(ImpactResult.period_start >= first)
    if last is not None:
        query = query.where(ImpactResult.period_start <= last)
    return query.order_by(ImpactResult.period_start, ImpactResult.revision)


def list_results(
    session: Session,
    asset_id: int,
    period: str,
    first: date | None,
    last: date | None,
    all_revisions: bool,
) -> list[ImpactResult]:
    registry.get_asset(session, asset_id)
    query = _asset_periods(select(ImpactResult), asset_id, period, first, last)
    rows = list(session.scalars(query))
    if all_revisions:
        return rows
    latest: dict[date, ImpactResult] = {}
    for row in rows:
        latest[row.period_start] = row
    return list(latest.values())


SERIES_COLUMNS = (
    ImpactResult.id,
    ImpactResult.period_start,
    ImpactResult.revision,
    ImpactResult.final,
    ImpactResult.metered_wh,
    ImpactResult.benchmark_wh,
    ImpactResult.reduction_wh,
    ImpactResult.co2_avoided_g,
    ImpactResult.intervals_present,
    ImpactResult.intervals_expected,
    ImpactResult.flags,
    ImpactResult.method,
)


def series_rows(
    session: Session, asset_id: int, period: str, first: date | None, last: date | None
) -> list[Row[Any]]:
    """The latest revision per period, only the columns a series shows (plain rows: a one-year
    daily series is read on every investor page view)."""
    registry.get_asset(session, asset_id)
    query = _asset_periods(select(*SERIES_COLUMNS), asset_id, period, first, last)
    latest: dict[date, Row[Any]] = {}
    for row in session.execute(query):
        latest[row.period_start] = row
    return list(latest.values())


def bond_impact(
    session: Session, bond_id: int, period: str, first: date | None, last: date | None
) -> list[BondPeriodImpact]:
    """Per period from the bond's issue date on: the assets' totals and the bond's attributed
    share (pro-rata to its share of each asset's financing, each day rounded toward zero)."""
    issued = registry.get_bond(session, bond_id).issue_date
    first = issued if first is None else max(first, issued)
    if period == "month":
        return _bond_months(session, bond_id, first, last)
    shares = {a.asset_id: a.financing_share for a in registry.allocations_of_bond(session, bond_id)}
    query = select(
        ImpactResult.asset_id,
        ImpactResult.period_start,
        ImpactResult.reduction_wh,
        ImpactResult.co2_avoided_g,
        ImpactResult.final,
    ).where(
        in_ids(session, ImpactResult.asset_id, list(shares)),
        ImpactResult.period == period,
        ImpactResult.period_start >= first,
    )
    if last is not None:
        query = query.where(ImpactResult.period_start <= last)
    latest: dict[tuple[int, date], Row[Any]] = {}  # one query for all the bond's assets
    for row in session.execute(query.order_by(ImpactResult.revision)):
        latest[(row.asset_id, row.period_start)] = row
    totals: dict[date, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 1])
    for (asset_id, start), row in latest.items():
        acc = totals[start]
        acc[0] += row.reduction_wh or 0
        acc[1] += row.co2_avoided_g or 0
        acc[2] += attribute(row.reduction_wh, shares[asset_id]) or 0
        acc[3] += attribute(row.co2_avoided_g, shares[asset_id]) or 0
        acc[4] &= int(row.final)
    return [
        BondPeriodImpact(
            period_start=start,
            assets_reduction_wh=acc[0],
            assets_co2_avoided_g=acc[1],
            attributed_reduction_wh=acc[2],
            attributed_co2_avoided_g=acc[3],
            final=bool(acc[4]),
        )
        for start, acc in sorted(totals.items())
    ]


def _rollup_sums() -> tuple[Any, ...]:
    return (
        func.sum(BondAssetMonth.reduction_wh),
        func.sum(BondAssetMonth.co2_avoided_g),
        func.sum(BondAssetMonth.attributed_reduction_wh),
        func.sum(BondAssetMonth.attributed_co2_avoided_g),
        func.sum(BondAssetMonth.days),
        func.sum(BondAssetMonth.provisional_days),
    )


def _bond_months(
    session: Session, bond_id: int, first: date, last: date | None
) -> list[BondPeriodImpact]:
    query = select(BondAssetMonth.month_start, *_rollup_sums()).where(
        BondAssetMonth.bond_id == bond_id,
        BondAssetMonth.month_start >= first.replace(day=1),
        BondAssetMonth.days > 0,
    )
    if last is not None:
        query = query.where(BondAssetMonth.month_start <= last)
    rows = session.execute(
        query.group_by(BondAssetMonth.month_start).order_by(BondAssetMonth.month_start)
    )
    return [
        BondPeriodImpact(
            period_start=month,
            assets_reduction_wh=int(r),
            assets_co2_avoided_g=int(g),
            attributed_reduction_wh=int(ar),
            attributed_co2_avoided_g=int(ag),
            final=int(provisional) == 0,
        )
        for month, r, g, ar, ag, _, provisional in rows
    ]


def bond_totals(session: Session, bond_id: int) -> AttributedTotals:
    """The bond's figures since issuance, from the monthly roll-ups (one aggregate query)."""
    registry.get_bond(session, bond_id)
    row = session.execute(select(*_rollup_sums()).where(BondAssetMonth.bond_id == bond_id)).one()
    r, g, ar, ag, days, provisional = (int(v or 0) for v in row)
    return AttributedTotals(r, g, ar, ag, days, provisional)


def check_recompute_range(first: date, last: date) -> None:
    if last < first:
        raise unprocessable([FieldError("last_day", "must not be before first_day")])
    if (last - first).days > 3660:
        raise unprocessable([FieldError("last_day", "at most ten years per request")])


def factors_by_ids(session: Session, ids: list[int]) -> dict[int, EmissionFactorVersion]:
    rows = session.scalars(select(EmissionFactorVersion).where(EmissionFactorVersion.id.in_(ids)))
    return {f.id: f for f in rows}


def configs_by_ids(session: Session, ids: list[int]) -> dict[int, BenchmarkConfig]:
    rows = session.scalars(select(BenchmarkConfig).where(BenchmarkConfig.id.in_(ids)))
    return {c.id: c for c in rows}


def result_ids_of_asset(session: Session, asset_id: int, period: str) -> list[int]:
    return list(
        session.scalars(
            select(ImpactResult.id).where(
                ImpactResult.asset_id == asset_id, ImpactResult.period == period
            )
        )
    )


def results_by_ids(session: Session, ids: list[int]) -> dict[int, ImpactResult]:
    return {r.id: r for r in session.scalars(select(ImpactResult).where(ImpactResult.id.in_(ids)))}

"""Storing and recomputing results: run the pure calculation core for an asset's days and months
and store them with revisions.

Provisional results (the period or its grace time still open) are replaced in place; a final
result never changes: a later difference becomes revision n+1 naming the one it supersedes.
A long recompute commits in chunks of whole months.
"""

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from app.core.errors import FieldError, unprocessable
from app.impact.configs import benchmark_configs
from app.impact.factors import calc_factor, emission_factors
from app.impact.meter_days import consecutive_runs, day_totals
from app.impact.models import (
    ImpactResult,
)
from app.impact.resolution import ResolvedConfig, fit_of_record, meters_of_energy, resolve
from app.impact.result_rows import (
    FIGURES,
    closed,
    latest_results,
    row_values,
    to_period_result,
)
from app.impact.rollups import roll_up_month
from app.outbox.service import enqueue
from app.pure.calc.days import mean_temperature_c
from app.pure.calc.factors import select_factor
from app.pure.calc.methods import in_effect
from app.pure.calc.results import (
    PeriodResult,
    day_result,
    month_result,
    next_month,
    uncertainty_basis,
)
from app.registry import service as registry


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
    values = row_values(result, config_id, fit_id)
    if existing is not None:
        unchanged = all(getattr(existing, k) == values[k] for k in FIGURES)
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

    energy_meters = meters_of_energy(session, asset)
    factors = [calc_factor(f) for f in emission_factors(session, asset.grid_region)]
    by_id = {f.id: f for f in factors}
    existing_days = latest_results(session, asset_id, "day", wanted)
    resolved: dict[int, ResolvedConfig] = {}
    temperature_meters = {}
    for baseline in (c for c in configs if c.method == "baseline"):
        meter_id = json.loads(baseline.params_json)["temperature_meter_id"]
        temperature_meters[baseline.id] = registry.get_meter(session, meter_id)

    months: set[date] = set()
    for first, last in consecutive_runs(wanted):
        energy = day_totals(session, energy_meters, asset.timezone, first, last)
        temps_cache: dict[int, dict[date, float | None]] = {}
        for total in energy:
            config = in_effect(configs, total.day)
            assert config is not None  # the days start at the first configuration
            if config.id not in resolved:
                resolved[config.id] = resolve(session, asset, config)
            current = resolved[config.id]
            temperature = None
            if config.id in temperature_meters:
                if config.id not in temps_cache:
                    temps_cache[config.id] = {
                        t.day: mean_temperature_c(t)
                        for t in day_totals(
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
            ended = closed(day_end, tz, timedelta(0), now)
            final = closed(day_end, tz, grace, now)
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
        last = min(next_month(month) - timedelta(days=1), today)
        span = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        have = latest_results(session, asset_id, "day", span)
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
    existing_months = latest_results(session, asset_id, "month", months)
    allocations = registry.allocations_of_asset(session, asset_id)
    for month in sorted(months):
        end = next_month(month)
        last_day = min(end - timedelta(days=1), today)
        day_rows = latest_results(
            session,
            asset_id,
            "day",
            [month + timedelta(days=i) for i in range((last_day - month).days + 1)],
        )
        if not day_rows:
            continue
        days = [to_period_result(day_rows[d]) for d in sorted(day_rows)]
        ended = closed(end, tz, timedelta(0), now)
        final = closed(end, tz, grace, now) and all(d.final for d in days)
        latest_day = day_rows[max(day_rows)]
        basis = uncertainty_basis(fit_of_record(session, latest_day.baseline_fit_id))
        result = month_result(days, ended, final, basis)
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
        roll_up_month(
            session, asset_id, month, [day_rows[d] for d in sorted(day_rows)], allocations
        )
    return revisions


def check_recompute_range(first: date, last: date) -> None:
    if last < first:
        raise unprocessable([FieldError("last_day", "must not be before first_day")])
    if (last - first).days > 3660:
        raise unprocessable([FieldError("last_day", "at most ten years per request")])

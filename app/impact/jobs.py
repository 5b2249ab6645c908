"""The impact job: fold new readings into results, create the days that began, finalise the
periods that closed, moving each asset's progress marker forward safely. One runner at a time
across all replicas."""

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import utcnow
from app.core.locks import try_exclusive
from app.impact.configs import benchmark_configs
from app.impact.meter_days import local_days_of_utc_day, rebuild_meter_days
from app.impact.models import (
    AssetProgress,
    BenchmarkConfig,
    ImpactResult,
)
from app.impact.resolution import config_baseline_window
from app.impact.result_rows import closed
from app.impact.results import recompute_asset
from app.impact.rollups import build_new_allocation_rollups
from app.ingest import service as ingest
from app.registry import service as registry

log = logging.getLogger(__name__)
LOCK_NAME = "gbt.impact-job"
MAX_BATCHES_PER_RUN = 20


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
        local_days = set().union(*(local_days_of_utc_day(d, tz) for d in utc_days))
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
        window = config_baseline_window(config)
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
            if closed(day_end, tz, grace, now) or (
                marked_incomplete and closed(day_end, tz, timedelta(0), now)
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


@dataclass(frozen=True)
class CycleReport:
    ran: bool
    changes: int = 0
    days_advanced: int = 0


def run_impact_cycle(
    engine: Engine,
    session_factory: sessionmaker[Session],
    grace: timedelta,
    now: datetime | None = None,
) -> CycleReport:
    with try_exclusive(engine, LOCK_NAME) as held:
        if not held:
            return CycleReport(ran=False)
        now = now or utcnow()
        changes = 0
        with session_factory() as session:
            for _ in range(MAX_BATCHES_PER_RUN):
                processed = process_reading_changes(session, now, grace)
                changes += processed
                if not processed:
                    break
            days = advance_time(session, now, grace)
            build_new_allocation_rollups(session)
        return CycleReport(ran=True, changes=changes, days_advanced=days)

"""Check 2, ``reductions``: each monitoring report's reductions recomputed with the pure
monitoring rules from the day results logged before its checkpoint, and each issuance's
reductions its report's."""

from dataclasses import dataclass
from datetime import date
from typing import Any

from app.audit.verify.credits.log import Log
from app.audit.verify.credits.results import Check, issuance_name, listing, report_name
from app.audit.verify.credits.sources import Sources
from app.pure import credits as rules
from app.pure.credit_leaves import MonitoringReportLeaf
from app.pure.leaves import ResultLeaf


@dataclass(frozen=True)
class Recomputed:
    asset_kind: str
    reductions_g: int
    reductions_t: int
    days: int
    days_counted: int


def _latest_days(log: Log, report: MonitoringReportLeaf) -> list[tuple[int, ResultLeaf]]:
    """The report's day results among the first ``checkpoint_tree_size`` leaves: the latest
    revision of each day (the service's ``_days``)."""
    latest: dict[date, tuple[int, ResultLeaf]] = {}
    for i, leaf in log.day_results.get(report.asset_id, []):
        day = leaf.result.period_start
        if i >= report.checkpoint_tree_size or not report.first_day <= day <= report.last_day:
            continue
        current = latest.get(day)
        if current is None or leaf.revision >= current[1].revision:
            latest[day] = (i, leaf)
    return [latest[d] for d in sorted(latest)]


def _monitoring_day(log: Log, leaf: ResultLeaf, size: int) -> rules.MonitoringDay:
    """The day as the service hands it to the rules: the factor its result names first, with
    the value of that factor's leaf (none when the leaf is not logged: the rules refuse a claim
    without its factor)."""
    r = leaf.result
    factor = None
    if r.factor_ids:
        logged = log.factors.get(r.factor_ids[0])
        factor = logged[1].factor if logged is not None and logged[0] < size else None
    return rules.MonitoringDay(
        day=r.period_start,
        metered_wh=r.metered_wh,
        benchmark_wh=r.benchmark_wh,
        reduction_wh=r.reduction_wh,
        co2_avoided_g=r.co2_avoided_g,
        kg_co2_per_kwh=None if factor is None else factor.kg_co2_per_kwh,
        factor_id=None if factor is None else factor.id,
        final=r.final,
        flags=r.flags,
        method=r.method,
    )


def _asset_kind(log: Log, days: list[tuple[int, ResultLeaf]], size: int) -> str:
    """The asset's kind, from the benchmark_config leaves its day results name; a
    MonitoringError when one is not logged before the checkpoint or they disagree."""
    kinds: dict[str, int] = {}
    for _, leaf in days:
        logged = log.configs.get(leaf.config_id)
        if logged is None or logged[0] >= size:
            raise rules.MonitoringError(
                f"result {leaf.result_id} names benchmark_config {leaf.config_id}, which is not "
                f"among the first {size} leaves"
            )
        config = logged[1]
        if config.asset_id != leaf.asset_id:
            raise rules.MonitoringError(
                f"result {leaf.result_id} names benchmark_config {config.config_id}, which is "
                f"asset {config.asset_id}'s"
            )
        kinds.setdefault(config.asset_kind, config.config_id)
    if len(kinds) != 1:
        raise rules.MonitoringError(
            f"the day results' benchmark configs name asset kinds {sorted(kinds)}"
        )
    return next(iter(kinds))


def recompute_report(log: Log, report: MonitoringReportLeaf) -> Recomputed:
    """The report's figures from the log; a MonitoringError says why they cannot be."""
    size = report.checkpoint_tree_size
    days = _latest_days(log, report)
    if not days:
        raise rules.MissingDaysError(
            f"no day result of asset {report.asset_id} among the first {size} leaves",
            rules.period_days(report.first_day, report.last_day),
        )
    kind = _asset_kind(log, days, size)
    figures = rules.monitoring_figures(
        kind, report.first_day, report.last_day, (_monitoring_day(log, d, size) for _, d in days)
    )
    total = figures.total
    return Recomputed(
        kind, total.reductions_g, total.reductions_t, total.days_in_period, total.days_counted
    )


def check_reductions(log: Log, sources: dict[int, Sources]) -> tuple[Check, dict[int, Recomputed]]:
    check = Check("reductions")
    recomputed: dict[int, Recomputed] = {}
    for i, report in log.reports:
        name = report_name(i, report)
        figures: dict[str, Any] = {
            "report_id": report.report_id,
            "leaf_index": i,
            "asset_id": report.asset_id,
            "first_day": report.first_day.isoformat(),
            "last_day": report.last_day.isoformat(),
            "checkpoint_tree_size": report.checkpoint_tree_size,
            "leaf_reductions_g": report.reductions_g,
            "leaf_reductions_t": report.reductions_t,
        }
        check.figures.append(figures)
        if report.checkpoint_tree_size > i:
            check.problems.append(
                f"{name} rests on the first {report.checkpoint_tree_size} leaves, which include "
                "itself: a report is logged after the checkpoint it is built at"
            )
        if report.reductions_t != rules.whole_tonnes(report.reductions_g):
            check.problems.append(
                f"{name}: reductions_t {report.reductions_t} is not {report.reductions_g} g "
                f"rounded down to whole tonnes ({rules.whole_tonnes(report.reductions_g)})"
            )
        try:
            mine = recompute_report(log, report)
        except rules.MonitoringError as e:
            check.problems.append(f"{name}: cannot be recomputed from the log: {e}")
            continue
        recomputed[i] = mine
        figures.update(
            asset_kind=mine.asset_kind,
            days=mine.days,
            days_counted=mine.days_counted,
            reductions_g=mine.reductions_g,
            reductions_t=mine.reductions_t,
        )
        for unit, theirs, ours in (
            ("g", report.reductions_g, mine.reductions_g),
            ("t", report.reductions_t, mine.reductions_t),
        ):
            if theirs != ours:
                check.problems.append(
                    f"{name}: reductions_{unit} {theirs}, recomputed {ours} from the "
                    f"{mine.days} day results among the first {report.checkpoint_tree_size} "
                    "leaves"
                )
    for k, iss in log.issuances:
        report_source = sources[k].report
        if report_source is None:
            continue
        j, report = report_source
        if iss.reductions_g != report.reductions_g:
            check.problems.append(
                f"{issuance_name(k, iss)}: reductions_g {iss.reductions_g}, its report's "
                f"(leaf {j}) is {report.reductions_g}"
            )
    check.summary = listing(
        f"{len(log.reports)} monitoring reports recomputed from their day results",
        (
            f"report {f['report_id']} (asset {f['asset_id']}, {f['first_day']}..{f['last_day']}"
            f", {f.get('days')} days) {f.get('reductions_g')} g = {f.get('reductions_t')} t"
            for f in check.figures
        ),
    )
    return check, recomputed

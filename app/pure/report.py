"""The green bond report's rules, shared by the service that publishes it and the verifier that
checks a downloaded copy: the reporting period, the impact figures of each project over it (from
the day results logged up to the checkpoint the report cites), the figure columns every format
prints, and the content hash that the report leaf commits to. Pure: no I/O.

Figures (docs/reporting.md maps each to its ICMA / MOE definition):

- Only ``day`` results count, the latest revision of each asset-day in the checkpoint's prefix
  (as checkpoint totals); days from ``max(period start, bond issue date)`` to the period's end.
- A day of an asset whose method is ``generation`` (a renewable plant) adds its reduction to
  ``generation_wh``; any other day adds it to ``energy_savings_wh``. CO2 avoided adds up both.
  ``energy_savings_wh + generation_wh`` is thus what checkpoint totals call ``reduction_wh``.
- Attributed to the bond: each day's figure x the allocation's financing share, rounded toward
  zero, then summed (``attribute``, as checkpoint totals), so a report whose period covers the
  bond's life up to the checkpoint shows exactly the anchored totals.
- A day without a claim (null reduction or CO2) adds nothing, and shows in the flag counts.
- Of which issued as carbon credits (docs/credits.md): for each ``credit_issuance`` leaf of the
  project's asset in the prefix, the credited part (app/pure/credited.py: rounded up, at most
  what was attributed) of the bond's attributed CO2 over the counted days of the credited
  period that fall in the report's period; claimable = attributed - credited.
- Savings uncertainty (ASHRAE Guideline 14, docs/methodology.md): per project, its counted days
  that state one, evaluated together (m = their count, counterfactual = their benchmarks summed)
  with the fit of the latest of them, as the investor API evaluates a bond's period; attributed
  to the bond x the financing share (rounded up); the portfolio's in quadrature. It cannot be
  derived from the days' own figures (each is rounded up to a whole Wh, and days may use
  different fits), so the caller supplies the fit's basis for a day (``BasisOf``).

Integers in the content are Wh and g; formats print MWh and t-CO2 (x 10^-6), exactly.
"""

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal, NamedTuple

from app.pure.calc.results import coverage, next_month, period_uncertainty_wh, share_of
from app.pure.calc.uncertainty import (
    UncertaintyBasis,
    attributed_uncertainty_wh,
    combined_uncertainty_wh,
)
from app.pure.credit_leaves import CreditIssuanceLeaf
from app.pure.credited import credited_by_bond
from app.pure.encoding import canonical_json
from app.pure.leaves import AllocationLeaf, ResultLeaf

REPORT_FORMAT = "gbt-green-bond-report/1"
PeriodKind = Literal["fiscal_year", "calendar_year", "range"]
# A date range report longer than this is refused: reports are yearly documents.
MAX_PERIOD_DAYS = 3 * 366


# --- period -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportPeriod:
    """Inclusive local dates. A Japanese fiscal year ``FY2026`` runs 2026-04-01 to 2027-03-31."""

    kind: PeriodKind
    start: date
    end: date

    @classmethod
    def fiscal_year(cls, year: int) -> "ReportPeriod":
        return cls("fiscal_year", date(year, 4, 1), date(year + 1, 3, 31))

    @classmethod
    def calendar_year(cls, year: int) -> "ReportPeriod":
        return cls("calendar_year", date(year, 1, 1), date(year, 12, 31))

    @classmethod
    def between(cls, start: date, end: date) -> "ReportPeriod":
        if end < start:
            raise ValueError("end: must not be before start")
        if (end - start).days + 1 > MAX_PERIOD_DAYS:
            raise ValueError(f"end: a report covers at most {MAX_PERIOD_DAYS} days")
        return cls("range", start, end)

    @property
    def label(self) -> str:
        if self.kind == "fiscal_year":
            return f"FY{self.start.year}"
        if self.kind == "calendar_year":
            return f"CY{self.start.year}"
        return f"{self.start.isoformat()}..{self.end.isoformat()}"

    def counted_from(self, issue_date: date) -> date:
        """Figures count only from the bond's issue date."""
        return max(self.start, issue_date)

    def as_json(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "label": self.label,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
        }


def fiscal_year_of(day: date) -> int:
    """The Japanese fiscal year (April to March) a day falls in, named by its starting year."""
    return day.year if day.month >= 4 else day.year - 1


# --- impact figures -----------------------------------------------------------------------------


@dataclass
class MonthFigures:
    metered_wh: int = 0
    benchmark_wh: int = 0
    energy_savings_wh: int = 0
    generation_wh: int = 0
    co2_avoided_g: int = 0
    attributed_co2_avoided_g: int = 0


class Day(NamedTuple):
    """What the report needs of one day result (a ``result`` leaf of period ``day``)."""

    asset_id: int
    day: date
    revision: int
    final: bool
    metered_wh: int
    benchmark_wh: int | None
    reduction_wh: int | None
    co2_avoided_g: int | None
    intervals_present: int
    intervals_expected: int
    flags: tuple[str, ...]
    method: str
    method_version: str
    factor_ids: tuple[int, ...]
    baseline_fit_id: int | None
    states_uncertainty: bool = False  # the day states a savings uncertainty

    @classmethod
    def of(cls, leaf: ResultLeaf) -> "Day":
        r = leaf.result
        return cls(
            leaf.asset_id,
            r.period_start,
            leaf.revision,
            r.final,
            r.metered_wh,
            r.benchmark_wh,
            r.reduction_wh,
            r.co2_avoided_g,
            r.intervals_present,
            r.intervals_expected,
            r.flags,
            r.method,
            r.method_version,
            r.factor_ids,
            leaf.baseline_fit_id,
            r.savings_uncertainty_68_wh is not None,
        )


# The uncertainty basis of the fit a day result used (None: none, or a fit without one).
BasisOf = Callable[[Day], UncertaintyBasis | None]
Uncertainty = tuple[int, int]  # +- Wh at 68 % and 90 %


@dataclass
class AssetFigures:
    """One project's figures over the counted days of the period."""

    asset_id: int
    days_expected: int
    days_reported: int = 0
    provisional_days: int = 0
    intervals_present: int = 0
    intervals_expected: int = 0
    metered_wh: int = 0
    benchmark_wh: int = 0
    energy_savings_wh: int = 0
    generation_wh: int = 0
    co2_avoided_g: int = 0
    attributed_energy_savings_wh: int = 0
    attributed_generation_wh: int = 0
    attributed_co2_avoided_g: int = 0
    # of the attributed CO2, what was issued as carbon credits (the rest is claimable)
    credited_co2_avoided_g: int = 0
    flags: dict[str, int] = field(default_factory=dict)
    methods: set[str] = field(default_factory=set)
    factor_ids: set[int] = field(default_factory=set)
    baseline_fit_ids: set[int] = field(default_factory=set)
    months: dict[date, MonthFigures] = field(default_factory=dict)
    last_day: date | None = None
    # the days that state a savings uncertainty: how many, their benchmarks, the latest of them
    uncertainty_days: int = 0
    uncertainty_benchmark_wh: int = 0
    latest_stating: Day | None = None
    savings_uncertainty: Uncertainty | None = None
    attributed_savings_uncertainty: Uncertainty | None = None

    @property
    def data_coverage(self) -> Decimal:
        return coverage(self.intervals_present, self.intervals_expected)

    def add(self, d: Day, attributed: Callable[[int | None], int | None]) -> None:
        """``attributed``: the allocation's share of a figure (``share_of``)."""
        self.last_day = d.day if self.last_day is None else max(self.last_day, d.day)
        self.days_reported += 1
        self.provisional_days += 0 if d.final else 1
        self.intervals_present += d.intervals_present
        self.intervals_expected += d.intervals_expected
        self.metered_wh += d.metered_wh
        self.benchmark_wh += d.benchmark_wh or 0
        reduction_wh = d.reduction_wh or 0
        attributed_wh = attributed(d.reduction_wh) or 0
        co2_g = d.co2_avoided_g or 0
        attributed_co2_g = attributed(d.co2_avoided_g) or 0
        month_start = d.day.replace(day=1)
        month = self.months.get(month_start)
        if month is None:
            month = self.months[month_start] = MonthFigures()
        if d.method == "generation":
            self.generation_wh += reduction_wh
            self.attributed_generation_wh += attributed_wh
            month.generation_wh += reduction_wh
        else:
            self.energy_savings_wh += reduction_wh
            self.attributed_energy_savings_wh += attributed_wh
            month.metered_wh += d.metered_wh
            month.benchmark_wh += d.benchmark_wh or 0
            month.energy_savings_wh += reduction_wh
        self.co2_avoided_g += co2_g
        self.attributed_co2_avoided_g += attributed_co2_g
        month.co2_avoided_g += co2_g
        month.attributed_co2_avoided_g += attributed_co2_g
        for flag in d.flags:
            self.flags[flag] = self.flags.get(flag, 0) + 1
        self.methods.add(f"{d.method}/{d.method_version}")
        self.factor_ids.update(d.factor_ids)
        if d.baseline_fit_id is not None:
            self.baseline_fit_ids.add(d.baseline_fit_id)
        if d.states_uncertainty:
            self.uncertainty_days += 1
            self.uncertainty_benchmark_wh += d.benchmark_wh or 0
            if self.latest_stating is None or d.day > self.latest_stating.day:
                self.latest_stating = d

    def evaluate_uncertainty(self, basis_of: BasisOf, financing_share: Decimal) -> None:
        """The period's savings uncertainty from the stating days (all added first), and the
        bond's share of it."""
        if self.latest_stating is None:
            return
        u = period_uncertainty_wh(
            basis_of(self.latest_stating), self.uncertainty_days, self.uncertainty_benchmark_wh
        )
        self.savings_uncertainty = u
        if u is not None:
            self.attributed_savings_uncertainty = (
                attributed_uncertainty_wh(u[0], financing_share),
                attributed_uncertainty_wh(u[1], financing_share),
            )


def closed(period: ReportPeriod, figures: Iterable[AssetFigures]) -> bool:
    """The period is closed in the log when every project that reports at all reports its last
    day (final results enter the log in day order), and one does. A project without any result
    yet (not monitored) does not hold the report back; its days show as not reported."""
    reporting = [f for f in figures if f.days_reported]
    return bool(reporting) and all(f.last_day == period.end for f in reporting)


def impact_figures(
    period: ReportPeriod,
    allocations: Sequence[AllocationLeaf],
    days: Iterable[Day],
    basis_of: BasisOf,
    issuances: Iterable[CreditIssuanceLeaf] = (),
) -> dict[int, AssetFigures]:
    """Per allocated asset (by asset id): its figures over the period's counted days, from the
    day results of a log prefix (any revisions: the latest of each asset-day wins), and what of
    them was issued as the credits ``issuances`` (the credit issuance leaves of the same prefix).
    ``basis_of`` is asked only for the latest stating day of each asset."""
    figures: dict[int, AssetFigures] = {}
    counted: dict[int, tuple[Callable[[int | None], int | None], date]] = {}
    for allocation in allocations:
        first = period.counted_from(allocation.bond_issue_date)
        expected = max(0, (period.end - first).days + 1)
        figures[allocation.asset_id] = AssetFigures(allocation.asset_id, expected)
        counted[allocation.asset_id] = (share_of(allocation.financing_share), first)
    latest: dict[tuple[int, date], Day] = {}
    for d in days:
        if d.asset_id not in counted:
            continue
        key = (d.asset_id, d.day)
        seen = latest.get(key)
        if seen is None or d.revision > seen.revision:
            latest[key] = d
    day_co2: dict[int, dict[date, int | None]] = {}
    for (asset_id, day), d in latest.items():  # sums and sets: the order does not matter
        attributed, first = counted[asset_id]
        if first <= day <= period.end:
            figures[asset_id].add(d, attributed)
            day_co2.setdefault(asset_id, {})[day] = d.co2_avoided_g
    credited = [i for i in issuances if i.asset_id in counted]
    for allocation in allocations:
        f = figures[allocation.asset_id]
        f.evaluate_uncertainty(basis_of, allocation.financing_share)
        # Only the counted days are in ``day_co2``: a credited period's days outside the
        # report's period are another report's.
        of_asset = [i for i in credited if i.asset_id == allocation.asset_id]
        f.credited_co2_avoided_g = credited_by_bond(of_asset, [allocation], day_co2).get(
            allocation.bond_id, 0
        )
    return figures


def months_of(period: ReportPeriod) -> list[date]:
    months, month = [], period.start.replace(day=1)
    while month <= period.end:
        months.append(month)
        month = next_month(month)
    return months


# --- figure columns -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A figure column of the report's tables: ``id`` (with its unit) names it in every format;
    ``key`` is its field in the content; a content integer divided by ``scale`` is the value a
    format prints (exactly: Wh / 10^6 = MWh); ``places`` the decimals the PDF shows.
    ``recomputed``: the verifier recomputes it from the log (the others are the issuer's
    declarations, committed by the report's hash)."""

    id: str
    key: str
    unit: str
    scale: int = 1
    places: int = 0
    recomputed: bool = True

    def value(self, raw: Any) -> Decimal | None:
        """The printed value of a content field (None stays None)."""
        if raw is None:
            return None
        return Decimal(raw) / self.scale

    def raw(self, value: Decimal) -> Decimal:
        """Back from a printed value to content units (Wh, g)."""
        return value * self.scale

    def shown(self, raw: Any) -> str:
        """The PDF's text for the figure: ``places`` decimals, thousands separated."""
        value = self.value(raw)
        if value is None:
            return "-"
        return f"{value:,.{self.places}f}"


MEGA = 10**6
ALLOCATION_COLUMNS = (
    Column("amount_allocated", "amount_allocated", "currency", places=0),
    Column("financing_share", "financing_share", "ratio", places=4),
    Column("project_cost", "project_cost", "currency", places=0, recomputed=False),
)
IMPACT_COLUMNS = (
    Column("metered_mwh", "metered_wh", "MWh", MEGA, 3),
    Column("benchmark_mwh", "benchmark_wh", "MWh", MEGA, 3),
    Column("energy_savings_mwh", "energy_savings_wh", "MWh", MEGA, 3),
    Column("generation_mwh", "generation_wh", "MWh", MEGA, 3),
    Column("co2_avoided_t", "co2_avoided_g", "t-CO2", MEGA, 3),
    Column("attributed_energy_savings_mwh", "attributed_energy_savings_wh", "MWh", MEGA, 3),
    Column("attributed_generation_mwh", "attributed_generation_wh", "MWh", MEGA, 3),
    Column("attributed_co2_avoided_t", "attributed_co2_avoided_g", "t-CO2", MEGA, 3),
    Column("credited_co2_avoided_t", "credited_co2_avoided_g", "t-CO2", MEGA, 3),
    Column("claimable_co2_avoided_t", "claimable_co2_avoided_g", "t-CO2", MEGA, 3),
    Column("savings_uncertainty_68_mwh", "savings_uncertainty_68_wh", "MWh", MEGA, 3),
    Column("savings_uncertainty_90_mwh", "savings_uncertainty_90_wh", "MWh", MEGA, 3),
    Column(
        "attributed_savings_uncertainty_68_mwh",
        "attributed_savings_uncertainty_68_wh",
        "MWh",
        MEGA,
        3,
    ),
    Column(
        "attributed_savings_uncertainty_90_mwh",
        "attributed_savings_uncertainty_90_wh",
        "MWh",
        MEGA,
        3,
    ),
    Column("days_reported", "days_reported", "days"),
    Column("days_expected", "days_expected", "days"),
    Column("data_coverage", "data_coverage", "ratio", places=4),
    Column("capacity_mw", "capacity_kw", "MW", 1000, 3, recomputed=False),
    Column(
        "expected_energy_savings_mwh",
        "expected_energy_savings_mwh",
        "MWh/year",
        places=3,
        recomputed=False,
    ),
    Column(
        "expected_co2_avoided_t", "expected_co2_avoided_t", "t-CO2/year", places=3, recomputed=False
    ),
    Column(
        "expected_generation_mwh",
        "expected_generation_mwh",
        "MWh/year",
        places=3,
        recomputed=False,
    ),
)
PORTFOLIO_KEY = "portfolio"


def _level(uncertainty: Uncertainty | None, index: int) -> int | None:
    return None if uncertainty is None else uncertainty[index]


def impact_row(f: AssetFigures) -> dict[str, Any]:
    """The recomputed fields of an impact table row (content units: Wh, g, days; coverage as a
    decimal string; an uncertainty the project does not state is null)."""
    return {
        "metered_wh": f.metered_wh,
        "benchmark_wh": f.benchmark_wh,
        "energy_savings_wh": f.energy_savings_wh,
        "generation_wh": f.generation_wh,
        "co2_avoided_g": f.co2_avoided_g,
        "attributed_energy_savings_wh": f.attributed_energy_savings_wh,
        "attributed_generation_wh": f.attributed_generation_wh,
        "attributed_co2_avoided_g": f.attributed_co2_avoided_g,
        "credited_co2_avoided_g": f.credited_co2_avoided_g,
        "claimable_co2_avoided_g": f.attributed_co2_avoided_g - f.credited_co2_avoided_g,
        "savings_uncertainty_68_wh": _level(f.savings_uncertainty, 0),
        "savings_uncertainty_90_wh": _level(f.savings_uncertainty, 1),
        "attributed_savings_uncertainty_68_wh": _level(f.attributed_savings_uncertainty, 0),
        "attributed_savings_uncertainty_90_wh": _level(f.attributed_savings_uncertainty, 1),
        "days_reported": f.days_reported,
        "days_expected": f.days_expected,
        "data_coverage": str(f.data_coverage),
    }


def _combined(uncertainties: Iterable[Uncertainty | None]) -> Uncertainty | None:
    """Independent baselines: in quadrature, per level (None when no project states one)."""
    stated = [u for u in uncertainties if u is not None]
    if not stated:
        return None
    return (
        combined_uncertainty_wh(u[0] for u in stated),
        combined_uncertainty_wh(u[1] for u in stated),
    )


def portfolio_row(figures: Iterable[AssetFigures]) -> dict[str, Any]:
    """The portfolio total of the recomputed fields (coverage over all intervals; the
    uncertainties of the projects in quadrature)."""
    projects = list(figures)
    total = AssetFigures(asset_id=0, days_expected=0)
    total.savings_uncertainty = _combined(f.savings_uncertainty for f in projects)
    total.attributed_savings_uncertainty = _combined(
        f.attributed_savings_uncertainty for f in projects
    )
    for f in projects:
        for name in (
            "days_expected",
            "days_reported",
            "intervals_present",
            "intervals_expected",
            "metered_wh",
            "benchmark_wh",
            "energy_savings_wh",
            "generation_wh",
            "co2_avoided_g",
            "attributed_energy_savings_wh",
            "attributed_generation_wh",
            "attributed_co2_avoided_g",
            "credited_co2_avoided_g",
        ):
            setattr(total, name, getattr(total, name) + getattr(f, name))
    return impact_row(total)


def monthly_rows(period: ReportPeriod, figures: Iterable[AssetFigures]) -> list[dict[str, Any]]:
    """The portfolio by month (for the charts: metered against benchmark, cumulative CO2)."""
    months = {m: MonthFigures() for m in months_of(period)}
    for f in figures:
        for month, m in f.months.items():
            acc = months[month]
            for name in vars(m):
                setattr(acc, name, getattr(acc, name) + getattr(m, name))
    rows, cumulative_g = [], 0
    for month, m in months.items():
        cumulative_g += m.co2_avoided_g
        rows.append(
            {"month": month.isoformat()[:7], **vars(m), "cumulative_co2_avoided_g": cumulative_g}
        )
    return rows


# --- content hash -------------------------------------------------------------------------------


def content_sha256(content: dict[str, Any]) -> str:
    """The hash the report leaf commits to: SHA-256 of the content's canonical JSON (sorted
    keys, no floats: decimals are strings)."""
    return hashlib.sha256(canonical_json(content)).hexdigest()

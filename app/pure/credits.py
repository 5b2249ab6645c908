"""The monitoring report of a carbon credit project (Japan's J-Credit scheme): the emission
reductions of one green asset over a monitoring period, computed from its day results logged up
to a confirmed checkpoint, the report's parameter table, and its canonical content (hashed with
``app.pure.report.content_sha256``). Pure: no I/O.

Rules (docs/credits.md, "Monitoring report"). J-Credit's formula is ER = BL - PJ (baseline
emissions less project emissions); here every term is an integer number of grams, per day:

- The period is whole UTC days, ``first_day`` to ``last_day`` inclusive, and each of its days
  needs its final result: a missing or provisional day refuses the report (credits are issued
  from final figures only, and a missing day is never read as zero).
- Energy saving (a building): ER = the day's ``co2_avoided_g``, so the report's reductions are
  exactly the anchored results'; PJ = ``co2_grams(metered_wh, the day's factor)``; BL = PJ + ER.
  BL - PJ = ER thus holds exactly, and BL differs from ``co2_grams(benchmark_wh, factor)`` by at
  most 1 g a day: ER and PJ are each rounded half-even to whole grams (<= 0.5 g each from the
  exact products), the benchmark's CO2 too (<= 0.5 g), and integers 1.5 g apart are 1 g apart.
- Generation (a renewable facility, method ``generation``, no benchmark): BL = ER = the day's
  ``co2_avoided_g`` (generation x the grid factor: the grid electricity it displaces); PJ = 0.
- A day without a claim (null reduction or CO2: too little data, no benchmark or temperature,
  no emission factor) counts nothing, conservatively (never an estimate), and is listed as
  excluded with the flags that say why. A day that uses more than its benchmark counts, with a
  negative ER: the period's reductions net them.
- Credits: ``reductions_t`` = the period's reductions rounded **down** to whole tonnes, as
  J-Credit certifies them; a period whose reductions are negative gives 0.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from app.pure.calc.factors import co2_grams_at
from app.pure.calc.methods import GenerationMethod
from app.pure.calc.results import next_month

KIND = "monitoring_report"
SCHEMA_VERSION = 1
GRAMS_PER_TONNE = 1_000_000
GENERATION = GenerationMethod.name
Calculation = Literal["energy_saving", "generation"]
# What the rules compute for each kind of green asset (the registry's kinds).
CALCULATION: Mapping[str, Calculation] = {
    "building": "energy_saving",
    "renewable_facility": "generation",
}
# The flags with which a day result claims nothing: an excluded day's reasons.
NO_CLAIM_FLAGS = frozenset(
    {
        "insufficient_coverage",
        "no_emission_factor",
        "no_temperature",
        "no_benchmark",
        "baseline_insufficient",
    }
)
ISSUER_ATTESTED = "issuer_attested"
# The real routes where an auditor gets the evidence (app/audit/router.py, the investor series).
RESULT_PROOF = "/v1/audit/proofs/result/{{result_id}}?checkpoint={checkpoint}"
FACTOR_PROOF = "/v1/audit/proofs/emission_factor/{factor_id}?checkpoint={checkpoint}"
DAY_RESULTS = "/v1/investor/assets/{asset_id}/series?period=day&first_day={first}&last_day={last}"
EXPORT = "/v1/audit/export?to={checkpoint}"
# Days named in an error message, at most (the rest are counted).
NAMED_DAYS = 10


# --- inputs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MonitoringDay:
    """One day's result as logged up to the checkpoint (its latest revision there)."""

    day: date
    metered_wh: int
    benchmark_wh: int | None
    reduction_wh: int | None
    co2_avoided_g: int | None
    kg_co2_per_kwh: Decimal | None  # the factor the CO2 was computed with
    factor_id: int | None
    final: bool
    flags: tuple[str, ...]
    method: str


@dataclass(frozen=True)
class CreditProject:
    """A credit project: one green asset registered under one methodology (configuration:
    the rules depend on the asset's kind, never on the methodology's id)."""

    project_id: int
    code: str  # the registry's project number
    name: str
    asset_id: int
    asset_name: str
    asset_kind: str  # building | renewable_facility
    methodology_id: str  # e.g. EN-S-019 (energy saving), EN-R-002 (solar)
    methodology_title: str
    meter_ids: tuple[int, ...]


@dataclass(frozen=True)
class FactorRef:
    """An emission factor version, with the fields of ``app.impact.models.EmissionFactorVersion``
    a reader needs to find its source."""

    id: int
    region: str
    kind: str
    kg_co2_per_kwh: Decimal
    valid_from: date
    valid_to: date  # exclusive
    publisher: str
    document: str
    published_on: date
    source_url: str | None = None

    @property
    def version(self) -> str:
        """How the report names the version: its document and publication date."""
        return f"{self.document} ({self.publisher}, {self.published_on.isoformat()})"


@dataclass(frozen=True)
class EvidenceRef:
    """The confirmed checkpoint the report's day results are logged under, as anchored."""

    checkpoint_number: int
    tree_size: int
    root_hex: str
    chain_id: int
    contract_address: str  # the registry contract holding the checkpoint
    tx_hash: str  # the transaction that anchored it
    closes_at: datetime | str  # aware datetime, or ISO 8601 text with an offset
    block_number: int | None = None
    methodology_hash_hex: str | None = None


# --- refusals -----------------------------------------------------------------------------------


class MonitoringError(ValueError):
    """No report from these inputs; the message names the problem."""


class PeriodError(MonitoringError):
    """The period is empty (its last day before its first)."""


class DaysError(MonitoringError):
    """Some days of the period cannot be reported; ``days`` names them."""

    def __init__(self, problem: str, days: Sequence[date]) -> None:
        self.days = tuple(days)
        named = ", ".join(d.isoformat() for d in self.days[:NAMED_DAYS])
        more = len(self.days) - NAMED_DAYS
        super().__init__(f"{problem}: {named}" + (f" and {more} more" if more > 0 else ""))


class MissingDaysError(DaysError):
    """Days of the period without a result."""


class ProvisionalDaysError(DaysError):
    """Days of the period whose result is not final yet."""


class InconsistentDayError(MonitoringError):
    """A day's figures contradict each other, the project or the factors given."""


# --- figures ------------------------------------------------------------------------------------


def whole_tonnes(co2_g: int) -> int:
    """Rounded down to whole tonnes, as J-Credit certifies (never up); nothing below zero."""
    return max(0, co2_g // GRAMS_PER_TONNE)


@dataclass(frozen=True)
class DayFigures:
    """A day's terms of ER = BL - PJ. An excluded day's figures are 0 (it counts nothing) and
    ``reasons`` says why."""

    source: MonitoringDay
    counted: bool
    energy_counterfactual_wh: int
    energy_metered_wh: int
    baseline_emissions_g: int
    project_emissions_g: int
    reductions_g: int
    reasons: tuple[str, ...] = ()

    @property
    def day(self) -> date:
        return self.source.day


@dataclass(frozen=True)
class ExcludedDay:
    day: date
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class PeriodFigures:
    """Sums over the counted days of ``first_day`` to ``last_day`` (the period, or a month of
    it). ``energy_counterfactual_wh``: what the baseline scenario would have drawn from the grid
    (a building's benchmark; a plant's generation, which the grid would have supplied)."""

    first_day: date
    last_day: date
    baseline_emissions_g: int
    project_emissions_g: int
    reductions_g: int
    energy_counterfactual_wh: int
    energy_metered_wh: int
    days_in_period: int
    days_counted: int
    days_excluded: tuple[ExcludedDay, ...]
    issuer_attested_days: tuple[date, ...]  # data imported by the issuer, not device-signed
    factor_ids: tuple[int, ...]

    @property
    def reductions_t(self) -> int:
        return whole_tonnes(self.reductions_g)


@dataclass(frozen=True)
class FactorUse:
    """An emission factor version the counted days used: on how many, first and last."""

    factor_id: int
    kg_co2_per_kwh: Decimal
    first_day: date
    last_day: date
    days: int


@dataclass(frozen=True)
class MonitoringFigures:
    calculation: Calculation
    total: PeriodFigures
    months: tuple[PeriodFigures, ...]  # each calendar month's days inside the period
    days: tuple[DayFigures, ...]  # every day of the period, in order
    factors: tuple[FactorUse, ...]  # by factor id
    methods: tuple[str, ...]  # the counted days' methods


def calculation_of(asset_kind: str) -> Calculation:
    try:
        return CALCULATION[asset_kind]
    except KeyError:
        known = ", ".join(CALCULATION)
        raise MonitoringError(f"asset kind {asset_kind!r}: one of {known}") from None


def period_days(first_day: date, last_day: date) -> list[date]:
    if last_day < first_day:
        raise PeriodError(
            f"the period {first_day.isoformat()}..{last_day.isoformat()} is empty: "
            "its last day is before its first"
        )
    return [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]


def _period_results(
    first_day: date, last_day: date, days: Iterable[MonitoringDay]
) -> list[MonitoringDay]:
    """Each day of the period's result, in order; refused unless every day has exactly one
    and all are final."""
    wanted = period_days(first_day, last_day)
    by_day: dict[date, MonitoringDay] = {}
    for d in days:
        if not first_day <= d.day <= last_day:
            raise InconsistentDayError(
                f"{d.day.isoformat()}: outside the period "
                f"{first_day.isoformat()}..{last_day.isoformat()}"
            )
        if d.day in by_day:
            raise InconsistentDayError(
                f"{d.day.isoformat()}: two results (give the latest revision of each day)"
            )
        by_day[d.day] = d
    missing = [day for day in wanted if day not in by_day]
    if missing:
        raise MissingDaysError("days of the period without a result", missing)
    provisional = [day for day in wanted if not by_day[day].final]
    if provisional:
        raise ProvisionalDaysError(
            "days of the period not final yet (a monitoring period is whole final days)",
            provisional,
        )
    return [by_day[day] for day in wanted]


def _inconsistent(d: MonitoringDay, problem: str) -> InconsistentDayError:
    return InconsistentDayError(f"{d.day.isoformat()}: {problem}")


def day_figures(calculation: Calculation, d: MonitoringDay) -> DayFigures:
    """The day's terms by the module's rules (the day's own figures checked against each other
    first: the formula's terms rely on them)."""
    generation = d.method == GENERATION
    if generation != (calculation == "generation"):
        raise _inconsistent(d, f"method {d.method!r} does not fit a {calculation} project")
    if generation and d.benchmark_wh is not None:
        raise _inconsistent(d, "a generation result has no benchmark")
    if d.reduction_wh is None or d.co2_avoided_g is None:
        reasons = tuple(sorted(NO_CLAIM_FLAGS.intersection(d.flags))) or d.flags or ("no_claim",)
        return DayFigures(d, False, 0, 0, 0, 0, 0, reasons)
    if d.kg_co2_per_kwh is None or d.factor_id is None:
        raise _inconsistent(d, "CO2 avoided without the emission factor it was computed with")
    if d.co2_avoided_g != co2_grams_at(d.reduction_wh, d.kg_co2_per_kwh):
        raise _inconsistent(
            d, f"co2_avoided_g is not reduction_wh x factor {d.factor_id} ({d.kg_co2_per_kwh})"
        )
    reductions_g = d.co2_avoided_g
    if generation:
        if d.reduction_wh != d.metered_wh:
            raise _inconsistent(d, "a generation result's reduction is its metered generation")
        return DayFigures(d, True, d.metered_wh, d.metered_wh, reductions_g, 0, reductions_g)
    if d.benchmark_wh is None or d.reduction_wh != d.benchmark_wh - d.metered_wh:
        raise _inconsistent(d, "reduction_wh is not benchmark_wh - metered_wh")
    project_g = co2_grams_at(d.metered_wh, d.kg_co2_per_kwh)
    return DayFigures(
        d, True, d.benchmark_wh, d.metered_wh, project_g + reductions_g, project_g, reductions_g
    )


def period_figures(first_day: date, last_day: date, days: Sequence[DayFigures]) -> PeriodFigures:
    """The sums of ``days`` (those of ``first_day`` to ``last_day``)."""
    counted = [f for f in days if f.counted]
    return PeriodFigures(
        first_day=first_day,
        last_day=last_day,
        baseline_emissions_g=sum(f.baseline_emissions_g for f in counted),
        project_emissions_g=sum(f.project_emissions_g for f in counted),
        reductions_g=sum(f.reductions_g for f in counted),
        energy_counterfactual_wh=sum(f.energy_counterfactual_wh for f in counted),
        energy_metered_wh=sum(f.energy_metered_wh for f in counted),
        days_in_period=len(days),
        days_counted=len(counted),
        days_excluded=tuple(ExcludedDay(f.day, f.reasons) for f in days if not f.counted),
        issuer_attested_days=tuple(f.day for f in days if ISSUER_ATTESTED in f.source.flags),
        factor_ids=tuple(
            sorted({f.source.factor_id for f in counted if f.source.factor_id is not None})
        ),
    )


def _factor_uses(days: Sequence[DayFigures]) -> tuple[FactorUse, ...]:
    used: dict[int, list[MonitoringDay]] = {}
    for f in days:
        if f.counted and f.source.factor_id is not None:
            used.setdefault(f.source.factor_id, []).append(f.source)
    uses = []
    for factor_id, on in sorted(used.items()):
        values = {d.kg_co2_per_kwh for d in on}
        if len(values) != 1:
            raise _inconsistent(on[0], f"factor {factor_id} with different values {values}")
        kg = on[0].kg_co2_per_kwh
        assert kg is not None  # counted days state their factor (day_figures)
        uses.append(FactorUse(factor_id, kg, on[0].day, on[-1].day, len(on)))
    return tuple(uses)


def monitoring_figures(
    asset_kind: str, first_day: date, last_day: date, days: Iterable[MonitoringDay]
) -> MonitoringFigures:
    """The period's figures by the module's rules, from every day's result (exactly one per
    day of the period, each final: otherwise a ``MonitoringError`` says what is wrong)."""
    calculation = calculation_of(asset_kind)
    results = _period_results(first_day, last_day, days)
    figures = [day_figures(calculation, d) for d in results]
    months = []
    month = first_day.replace(day=1)
    while month <= last_day:
        start, end = max(month, first_day), min(next_month(month) - timedelta(days=1), last_day)
        months.append(period_figures(start, end, [f for f in figures if start <= f.day <= end]))
        month = next_month(month)
    return MonitoringFigures(
        calculation=calculation,
        total=period_figures(first_day, last_day, figures),
        months=tuple(months),
        days=tuple(figures),
        factors=_factor_uses(figures),
        methods=tuple(sorted({f.source.method for f in figures if f.counted})),
    )


# --- parameter table ----------------------------------------------------------------------------


def _scaled(value: int | Decimal, places: int) -> str:
    """``value`` x 10^-places as exact decimal text (kWh of Wh, t of g or kg): no exponent,
    ``places`` decimals."""
    return format(Decimal(value).scaleb(-places), "f")


def kwh(energy_wh: int) -> str:
    return _scaled(energy_wh, 3)


def tonnes(co2_g: int) -> str:
    return _scaled(co2_g, 6)


def t_per_kwh(kg_co2_per_kwh: Decimal) -> str:
    return _scaled(kg_co2_per_kwh, 3)


def _parameter(
    symbol: str,
    unit: str,
    measurement: str,
    frequency: str,
    value: str,
    period: tuple[date, date],
    source: dict[str, Any],
    formula: str | None = None,
) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "definition": f"param.{symbol}",
        "unit": unit,
        "measurement": measurement,
        "frequency": frequency,
        "value": value,
        "formula": formula,
        "first_day": period[0].isoformat(),
        "last_day": period[1].isoformat(),
        "source": source,
    }


def parameter_table(
    project: CreditProject, figures: MonitoringFigures, factors: Mapping[int, FactorRef]
) -> list[dict[str, Any]]:
    """The report's parameters in J-Credit's terms, in the order the formula reads them:
    the energy quantities (EL_BL and EL_PJ saved, or EG_PJ generated), one CEF per factor
    version used, then BE, PE and ER. ``definition``, ``measurement`` and ``frequency`` are
    label keys (the renderer words them); values are exact decimal text in ``unit``."""
    total = figures.total
    period = (total.first_day, total.last_day)
    meters = {"meter_ids": sorted(project.meter_ids)}
    if figures.calculation == "generation":
        energy = [
            _parameter(
                "EG_PJ",
                "kWh",
                "how.metered_generation",
                "freq.interval_daily",
                kwh(total.energy_metered_wh),
                period,
                meters,
            )
        ]
        be_formula, pe_formula = "EG_PJ x CEF", "0"
        pe_how = "how.no_project_emissions"
    else:
        energy = [
            _parameter(
                "EL_BL",
                "kWh",
                "how.counterfactual",
                "freq.daily",
                kwh(total.energy_counterfactual_wh),
                period,
                {**meters, "methods": list(figures.methods)},
            ),
            _parameter(
                "EL_PJ",
                "kWh",
                "how.metered_consumption",
                "freq.interval_daily",
                kwh(total.energy_metered_wh),
                period,
                meters,
            ),
        ]
        be_formula, pe_formula = "PE + ER", "EL_PJ x CEF"
        pe_how = "how.calculated"
    cef = []
    for ref, use in checked_factors(figures, factors):
        cef.append(
            _parameter(
                "CEF",
                "t-CO2/kWh",
                "how.grid_factor",
                "freq.per_version",
                t_per_kwh(use.kg_co2_per_kwh),
                (use.first_day, use.last_day),
                {
                    "factor_id": ref.id,
                    "version": ref.version,
                    "region": ref.region,
                    "kind": ref.kind,
                    "publisher": ref.publisher,
                    "document": ref.document,
                    "published_on": ref.published_on.isoformat(),
                    "source_url": ref.source_url,
                    "days": use.days,
                },
            )
        )
    calculated = {"factor_ids": list(total.factor_ids)}
    emissions = [
        _parameter(
            "BE",
            "t-CO2",
            "how.calculated",
            "freq.daily_sum",
            tonnes(total.baseline_emissions_g),
            period,
            calculated,
            be_formula,
        ),
        _parameter(
            "PE",
            "t-CO2",
            pe_how,
            "freq.daily_sum",
            tonnes(total.project_emissions_g),
            period,
            calculated,
            pe_formula,
        ),
        _parameter(
            "ER",
            "t-CO2",
            "how.calculated",
            "freq.daily_sum",
            tonnes(total.reductions_g),
            period,
            calculated,
            "BE - PE",
        ),
    ]
    return [*energy, *cef, *emissions]


# --- content ------------------------------------------------------------------------------------


def utc_text(when: datetime | str) -> str:
    """ISO 8601 in UTC (``+00:00``) of an aware datetime or of ISO text with an offset."""
    moment = datetime.fromisoformat(when) if isinstance(when, str) else when
    if moment.tzinfo is None:
        raise MonitoringError(f"closes_at {when}: needs a UTC offset")
    return moment.astimezone(UTC).isoformat()


def _figures_json(p: PeriodFigures) -> dict[str, Any]:
    """A period's sums; ``days_excluded`` and ``days_issuer_attested`` count the days the
    content lists. Monthly rows leave out ``reductions_t``: credits are certified for the whole
    period, and whole tonnes of the months do not add up to it."""
    return {
        "first_day": p.first_day.isoformat(),
        "last_day": p.last_day.isoformat(),
        "baseline_emissions_g": p.baseline_emissions_g,
        "project_emissions_g": p.project_emissions_g,
        "reductions_g": p.reductions_g,
        "energy_counterfactual_wh": p.energy_counterfactual_wh,
        "energy_metered_wh": p.energy_metered_wh,
        "days_in_period": p.days_in_period,
        "days_counted": p.days_counted,
        "days_excluded": len(p.days_excluded),
        "days_issuer_attested": len(p.issuer_attested_days),
        "factor_ids": list(p.factor_ids),
    }


def _day_json(f: DayFigures) -> dict[str, Any]:
    """A row of the calculation sheet: the logged result's figures and the day's terms (null
    when it is excluded)."""
    d = f.source
    return {
        "day": d.day.isoformat(),
        "counted": f.counted,
        "method": d.method,
        "flags": list(d.flags),
        "metered_wh": d.metered_wh,
        "benchmark_wh": d.benchmark_wh,
        "reduction_wh": d.reduction_wh,
        "co2_avoided_g": d.co2_avoided_g,
        "factor_id": d.factor_id if f.counted else None,
        "kg_co2_per_kwh": str(d.kg_co2_per_kwh) if f.counted else None,
        "baseline_emissions_g": f.baseline_emissions_g if f.counted else None,
        "project_emissions_g": f.project_emissions_g if f.counted else None,
        "reductions_g": f.reductions_g if f.counted else None,
    }


def _factor_json(ref: FactorRef, use: FactorUse) -> dict[str, Any]:
    return {
        "id": ref.id,
        "region": ref.region,
        "kind": ref.kind,
        "kg_co2_per_kwh": str(ref.kg_co2_per_kwh),
        "valid_from": ref.valid_from.isoformat(),
        "valid_to": ref.valid_to.isoformat(),
        "publisher": ref.publisher,
        "document": ref.document,
        "published_on": ref.published_on.isoformat(),
        "source_url": ref.source_url,
        "first_day": use.first_day.isoformat(),
        "last_day": use.last_day.isoformat(),
        "days": use.days,
    }


def checked_factors(
    figures: MonitoringFigures, factors: Mapping[int, FactorRef]
) -> list[tuple[FactorRef, FactorUse]]:
    """Each factor version the counted days used, as given, with its use; refused when one is
    missing or its value is not the one the days used."""
    out = []
    for use in figures.factors:
        ref = factors.get(use.factor_id)
        if ref is None:
            raise MonitoringError(f"emission factor {use.factor_id}: used by days, not given")
        if ref.kg_co2_per_kwh != use.kg_co2_per_kwh:
            raise InconsistentDayError(
                f"emission factor {ref.id} is {ref.kg_co2_per_kwh} kg-CO2/kWh; "
                f"the days used {use.kg_co2_per_kwh}"
            )
        out.append((ref, use))
    return out


def _evidence_json(
    evidence: EvidenceRef, project: CreditProject, figures: MonitoringFigures
) -> dict[str, Any]:
    n = evidence.checkpoint_number
    return {
        "checkpoint": {
            "number": n,
            "tree_size": evidence.tree_size,
            "root_hex": evidence.root_hex,
            "chain_id": evidence.chain_id,
            "contract_address": evidence.contract_address,
            "tx_hash": evidence.tx_hash,
            "block_number": evidence.block_number,
            "closes_at": utc_text(evidence.closes_at),
            "methodology_hash_hex": evidence.methodology_hash_hex,
        },
        "proofs": {
            "day_results": DAY_RESULTS.format(
                asset_id=project.asset_id,
                first=figures.total.first_day.isoformat(),
                last=figures.total.last_day.isoformat(),
            ),
            "result_proof": RESULT_PROOF.format(checkpoint=n),
            "emission_factor_proofs": [
                {
                    "factor_id": use.factor_id,
                    "path": FACTOR_PROOF.format(factor_id=use.factor_id, checkpoint=n),
                }
                for use in figures.factors
            ],
            "export": EXPORT.format(checkpoint=n),
        },
    }


def monitoring_content(
    project: CreditProject,
    first_day: date,
    last_day: date,
    days: Iterable[MonitoringDay],
    factors: Mapping[int, FactorRef],
    evidence: EvidenceRef,
) -> dict[str, Any]:
    """The monitoring report's canonical content: JSON types only (integers in Wh and g,
    decimals and dates as text), the same dict for the same inputs. ``factors`` must hold every
    factor the counted days used, with the value they used."""
    figures = monitoring_figures(project.asset_kind, first_day, last_day, days)
    used = checked_factors(figures, factors)
    total = figures.total
    return {
        "kind": KIND,
        "schema_version": SCHEMA_VERSION,
        "calculation": figures.calculation,
        "project": {
            "project_id": project.project_id,
            "code": project.code,
            "name": project.name,
            "asset_id": project.asset_id,
            "asset_name": project.asset_name,
            "asset_kind": project.asset_kind,
            "methodology_id": project.methodology_id,
            "methodology_title": project.methodology_title,
            "meter_ids": sorted(project.meter_ids),
        },
        "period": {
            "first_day": first_day.isoformat(),
            "last_day": last_day.isoformat(),
            "days": total.days_in_period,
        },
        "figures": {**_figures_json(total), "reductions_t": total.reductions_t},
        "methods": list(figures.methods),
        "monthly": [
            {"month": m.first_day.isoformat()[:7], **_figures_json(m)} for m in figures.months
        ],
        "parameters": parameter_table(project, figures, factors),
        "excluded_days": [
            {"day": x.day.isoformat(), "reasons": list(x.reasons)} for x in total.days_excluded
        ],
        "issuer_attested_days": [d.isoformat() for d in total.issuer_attested_days],
        "emission_factors": [_factor_json(ref, use) for ref, use in used],
        "days": [_day_json(f) for f in figures.days],
        "evidence": _evidence_json(evidence, project, figures),
    }

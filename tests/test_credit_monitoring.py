"""The credit monitoring report: its figures (ER = BL - PJ in grams, from the day results the real
calculator makes), refusals, rounding down to whole tonnes, the parameter table, the canonical
content and its hash; then its formats: JSON, CSV (parsed with the csv module) and PDF in
English and Japanese (text extracted with pdftotext). Expected figures are recomputed from the
inputs here, never written down."""

# Japanese text uses full-width brackets: they are meant, not look-alikes.
# ruff: noqa: RUF001

import csv
import io
import json
import random
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

import app.credits.render as credits_render
from app.credits.render import render_monitoring_report
from app.credits.render.labels import EN, JA
from app.pure.calc.days import DayTotal
from app.pure.calc.factors import EmissionFactor, co2_grams, select_factor
from app.pure.calc.methods import GenerationMethod, SeriesMethod
from app.pure.calc.results import PeriodResult, day_result
from app.pure.credits import (
    CreditProject,
    EvidenceRef,
    FactorRef,
    InconsistentDayError,
    MissingDaysError,
    MonitoringDay,
    MonitoringError,
    MonitoringFigures,
    PeriodError,
    ProvisionalDaysError,
    monitoring_content,
    monitoring_figures,
    whole_tonnes,
)
from app.pure.encoding import canonical_json
from app.pure.report import content_sha256
from app.reports.render import PdfUnavailableError

REGION = "tokyo"
FIRST, LAST = date(2026, 2, 20), date(2026, 5, 6)  # across a fiscal year: two factor versions
INTERVALS = 96  # 15-minute intervals a day
FACTORS = (
    FactorRef(
        id=11,
        region=REGION,
        kind="location_grid_average",
        kg_co2_per_kwh=Decimal("0.441000"),
        valid_from=date(2025, 4, 1),
        valid_to=date(2026, 4, 1),
        publisher="環境省・経済産業省",
        document="電気事業者別排出係数（令和6年度実績）",
        published_on=date(2025, 3, 1),
        source_url="https://ghg-santeikohyo.env.go.jp/calc",
    ),
    FactorRef(
        id=12,
        region=REGION,
        kind="location_grid_average",
        kg_co2_per_kwh=Decimal("0.423457"),
        valid_from=date(2026, 4, 1),
        valid_to=date(2027, 4, 1),
        publisher="環境省・経済産業省",
        document="電気事業者別排出係数（令和7年度実績）",
        published_on=date(2026, 3, 15),
    ),
)
EVIDENCE = EvidenceRef(
    checkpoint_number=42,
    tree_size=123_456,
    root_hex="ab" * 32,
    chain_id=31337,
    contract_address="0x5FbDB2315678afecb367f042c1390809407b3ACe",
    tx_hash="0x" + "cd" * 32,
    closes_at=datetime(2026, 5, 8, 0, 15, tzinfo=UTC),
    block_number=901,
    methodology_hash_hex="ef" * 32,
)
BUILDING = CreditProject(
    project_id=3,
    code="JCR-P0012",
    name="研究棟ZEB化改修による省エネルギー",
    asset_id=7,
    asset_name="Research building",
    asset_kind="building",
    methodology_id="EN-S-019",
    methodology_title="Energy saving by building retrofit",
    meter_ids=(31, 30),
)
PLANT = replace(
    BUILDING,
    project_id=4,
    code="JCR-P0013",
    name="Rooftop solar",
    asset_id=8,
    asset_name="Solar plant",
    asset_kind="renewable_facility",
    methodology_id="EN-R-002",
    methodology_title="Solar power generation",
    meter_ids=(40,),
)
PDF_TOOLS = ("pdftotext",)
needs_poppler = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in PDF_TOOLS),
    reason="poppler-utils (pdftotext) not installed: PDF checks skipped",
)
# J-Credit's terms the Japanese PDF must show.
JA_TERMS = (
    "モニタリング報告書",
    "モニタリング期間",
    "ベースライン排出量",
    "プロジェクト排出量",
    "排出削減量",
    "排出係数",
    "モニタリングパラメータ",
    "方法論",
    "算定対象外の日",
    "検証情報",
)
EN_TERMS = (
    "Monitoring Report",
    "Monitoring period",
    "Baseline emissions",
    "Project emissions",
    "Emission reductions",
    "Emission factors",
    "Monitoring parameters",
)


# --- the days, as the real calculator makes them -----------------------------------------------


def emission_factor(ref: FactorRef) -> EmissionFactor:
    return EmissionFactor(
        ref.id,
        ref.region,
        ref.kind,
        ref.valid_from,
        ref.valid_to,
        ref.kg_co2_per_kwh,
        ref.published_on,
    )


CALC_FACTORS = [emission_factor(f) for f in FACTORS]


def monitoring_day(r: PeriodResult, factor: EmissionFactor | None) -> MonitoringDay:
    """What the service builds from a logged day result and the factor it names."""
    used = factor if r.factor_ids else None
    return MonitoringDay(
        day=r.period_start,
        metered_wh=r.metered_wh,
        benchmark_wh=r.benchmark_wh,
        reduction_wh=r.reduction_wh,
        co2_avoided_g=r.co2_avoided_g,
        kg_co2_per_kwh=None if used is None else used.kg_co2_per_kwh,
        factor_id=None if used is None else used.id,
        final=r.final,
        flags=r.flags,
        method=r.method,
    )


def period(first: date = FIRST, last: date = LAST) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def saving_days(
    first: date = FIRST, last: date = LAST, seed: int = 1, worse: bool = False
) -> list[MonitoringDay]:
    """A building's days against an issuer's benchmark series: mostly savings (``worse``: it
    uses more than its benchmark), one day with too few intervals, one without a benchmark, one
    without an emission factor, a few of issuer-attested data."""
    rng = random.Random(seed)
    days = period(first, last)
    no_benchmark, sparse, no_factor = days[5], days[17], days[-9]
    benchmark = {d: rng.randint(1_800_000, 2_600_000) for d in days if d != no_benchmark}
    method = SeriesMethod(daily_wh=benchmark)
    out = []
    for i, d in enumerate(days):
        used = benchmark.get(d, 2_000_000)
        metered = (
            used + rng.randint(1_000, 400_000) if worse else used - rng.randint(-50_000, 600_000)
        )
        present = INTERVALS // 2 if d == sparse else INTERVALS - (i % 3 == 0)
        energy = DayTotal(d, metered, present, INTERVALS, False, attested=i % 11 == 4)
        factor = None if d == no_factor else select_factor(CALC_FACTORS, REGION, d)
        result = day_result(energy, None, method, factor, ended=True, final=True)
        out.append(monitoring_day(result, factor))
    return out


def generation_days(
    first: date = FIRST, last: date = LAST, wh: Sequence[int] | None = None
) -> list[MonitoringDay]:
    rng = random.Random(2)
    out = []
    for i, d in enumerate(period(first, last)):
        generated = wh[i] if wh is not None else rng.randint(0, 450_000)
        energy = DayTotal(d, generated, INTERVALS, INTERVALS, False)
        factor = select_factor(CALC_FACTORS, REGION, d)
        result = day_result(energy, None, GenerationMethod(), factor, ended=True, final=True)
        out.append(monitoring_day(result, factor))
    return out


def counted(days: Sequence[MonitoringDay]) -> list[MonitoringDay]:
    return [d for d in days if d.reduction_wh is not None and d.co2_avoided_g is not None]


def factor_of(d: MonitoringDay) -> EmissionFactor:
    [factor] = [f for f in CALC_FACTORS if f.id == d.factor_id]
    return factor


FACTOR_MAP = {f.id: f for f in FACTORS}


def content_of(
    project: CreditProject = BUILDING, days: Sequence[MonitoringDay] | None = None
) -> dict[str, Any]:
    if days is None:
        days = saving_days() if project.asset_kind == "building" else generation_days()
    return monitoring_content(project, FIRST, LAST, days, FACTOR_MAP, EVIDENCE)


# --- figures ------------------------------------------------------------------------------------


def test_energy_saving_reductions_are_the_anchored_co2_and_bl_minus_pj() -> None:
    days = saving_days()
    figures = monitoring_figures("building", FIRST, LAST, days)
    total, claims = figures.total, counted(days)
    assert figures.calculation == "energy_saving"
    assert 0 < len(claims) < len(days)  # the excluded days are there
    assert total.reductions_g == sum(d.co2_avoided_g or 0 for d in claims)
    assert total.project_emissions_g == sum(co2_grams(d.metered_wh, factor_of(d)) for d in claims)
    assert total.baseline_emissions_g - total.project_emissions_g == total.reductions_g
    assert total.energy_counterfactual_wh == sum(d.benchmark_wh or 0 for d in claims)
    assert total.energy_metered_wh == sum(d.metered_wh for d in claims)
    assert total.days_in_period == len(days) and total.days_counted == len(claims)
    assert total.factor_ids == tuple(sorted({d.factor_id for d in claims if d.factor_id}))
    assert len(total.factor_ids) == 2  # both fiscal years' versions
    for f in figures.days:
        assert f.baseline_emissions_g - f.project_emissions_g == f.reductions_g
        if f.counted:  # BL is EL_BL x CEF but for rounding: within 1 g a day
            bl = co2_grams(f.source.benchmark_wh or 0, factor_of(f.source))
            assert abs(f.baseline_emissions_g - bl) <= 1
    # a reduction over the period, so credits: whole tonnes, rounded down
    assert total.reductions_g > 0
    assert total.reductions_t == total.reductions_g // 1_000_000 > 0
    assert total.reductions_t * 1_000_000 <= total.reductions_g


def test_generation_has_no_project_emissions() -> None:
    days = generation_days()
    figures = monitoring_figures("renewable_facility", FIRST, LAST, days)
    total = figures.total
    assert figures.calculation == "generation" and figures.methods == ("generation",)
    assert total.project_emissions_g == 0
    assert (
        total.baseline_emissions_g == total.reductions_g == sum(d.co2_avoided_g or 0 for d in days)
    )
    assert total.reductions_g == sum(co2_grams(d.metered_wh, factor_of(d)) for d in days)
    assert (
        total.energy_metered_wh == total.energy_counterfactual_wh == sum(d.metered_wh for d in days)
    )
    assert total.days_counted == len(days) and not total.days_excluded


def test_credits_are_rounded_down_to_whole_tonnes_and_never_negative() -> None:
    assert [whole_tonnes(g) for g in (0, 999_999, 2_999_999, 3_000_000, -1, -2_500_000)] == [
        0,
        0,
        2,
        3,
        0,
        0,
    ]
    # A day of generation whose CO2 is a gram short of 3 t (0.5 kg/kWh x 5,999,998 Wh).
    factor = FactorRef(**{**vars(FACTORS[0]), "kg_co2_per_kwh": Decimal("0.5")})
    calc = emission_factor(factor)
    energy = DayTotal(FIRST, 5_999_998, INTERVALS, INTERVALS, False)
    result = day_result(energy, None, GenerationMethod(), calc, ended=True, final=True)
    figures = monitoring_figures("renewable_facility", FIRST, FIRST, [monitoring_day(result, calc)])
    grams = co2_grams(5_999_998, calc)
    assert figures.total.reductions_g == grams and grams % 1_000_000 == 1_000_000 - 1
    assert figures.total.reductions_t == grams // 1_000_000 < grams / 1_000_000
    # A building that used more than its benchmark: negative reductions, no credits.
    worse = monitoring_figures("building", FIRST, LAST, saving_days(worse=True))
    assert worse.total.reductions_g < 0
    assert worse.total.reductions_t == 0
    content = content_of(BUILDING, saving_days(worse=True))
    assert content["figures"]["reductions_t"] == 0
    assert content["figures"]["reductions_g"] == worse.total.reductions_g


def test_days_without_a_claim_count_nothing_and_are_listed_with_their_reasons() -> None:
    days = saving_days()
    figures = monitoring_figures("building", FIRST, LAST, days)
    no_claim = [d for d in days if d not in counted(days)]
    excluded = figures.total.days_excluded
    assert [x.day for x in excluded] == [d.day for d in no_claim]
    reasons = {x.day: x.reasons for x in excluded}
    assert {r for x in excluded for r in x.reasons} == {
        "insufficient_coverage",
        "no_benchmark",
        "no_emission_factor",
    }
    for d in no_claim:
        assert reasons[d.day] and set(reasons[d.day]) <= set(d.flags)
        assert "gaps" not in reasons[d.day]  # a flag of the day, not why it counts nothing
    # Counting only the claiming days gives the same figures: the others add nothing at all.
    only = figures.days
    counted_sum = sum(f.baseline_emissions_g for f in only if f.counted)
    assert figures.total.baseline_emissions_g == counted_sum
    assert all(
        (f.baseline_emissions_g, f.project_emissions_g, f.reductions_g) == (0, 0, 0)
        for f in only
        if not f.counted
    )
    attested = [d.day for d in days if "issuer_attested" in d.flags]
    assert attested and figures.total.issuer_attested_days == tuple(attested)
    content = content_of(BUILDING, days)
    assert content["excluded_days"] == [
        {"day": x.day.isoformat(), "reasons": list(x.reasons)} for x in excluded
    ]
    assert content["issuer_attested_days"] == [d.isoformat() for d in attested]
    assert content["figures"]["days_excluded"] == len(no_claim)


def test_refusals_name_the_problem() -> None:
    days = saving_days()
    with pytest.raises(PeriodError, match="empty"):
        monitoring_figures("building", LAST, FIRST, days)
    missing = [days[3].day, days[40].day]
    with pytest.raises(MissingDaysError) as caught:
        monitoring_figures("building", FIRST, LAST, [d for d in days if d.day not in missing])
    assert caught.value.days == tuple(missing)
    assert all(d.isoformat() in str(caught.value) for d in missing)
    provisional = [replace(d, final=False) if d.day == LAST else d for d in days]
    with pytest.raises(ProvisionalDaysError, match=LAST.isoformat()) as not_final:
        monitoring_figures("building", FIRST, LAST, provisional)
    assert not_final.value.days == (LAST,)
    with pytest.raises(InconsistentDayError, match="two results"):
        monitoring_figures("building", FIRST, LAST, [*days, days[0]])
    with pytest.raises(InconsistentDayError, match="outside the period"):
        monitoring_figures("building", FIRST, LAST - timedelta(days=1), days)
    with pytest.raises(InconsistentDayError, match="does not fit"):
        monitoring_figures("renewable_facility", FIRST, LAST, days)
    with pytest.raises(MonitoringError, match="asset kind"):
        monitoring_figures("ship", FIRST, LAST, days)
    # CO2 that is not the reduction x the factor the day names: a wrong factor was given
    claim = counted(days)[0]
    wrong = [replace(d, kg_co2_per_kwh=Decimal("0.5")) if d == claim else d for d in days]
    with pytest.raises(InconsistentDayError, match=claim.day.isoformat()):
        monitoring_figures("building", FIRST, LAST, wrong)
    # every factor used must be given, with the value the days used
    with pytest.raises(MonitoringError, match="emission factor 12"):
        monitoring_content(BUILDING, FIRST, LAST, days, {11: FACTORS[0]}, EVIDENCE)
    changed = {**FACTOR_MAP, 12: replace(FACTORS[1], kg_co2_per_kwh=Decimal("0.4"))}
    with pytest.raises(InconsistentDayError, match="emission factor 12"):
        monitoring_content(BUILDING, FIRST, LAST, days, changed, EVIDENCE)
    with pytest.raises(MonitoringError, match="UTC offset"):
        monitoring_content(
            BUILDING, FIRST, LAST, days, FACTOR_MAP, replace(EVIDENCE, closes_at="2026-05-08T00:15")
        )
    # every refusal is a ValueError (a 422 at the API)
    assert issubclass(MonitoringError, ValueError)


@pytest.mark.parametrize("kind", ["building", "renewable_facility"])
def test_monthly_rows_cover_the_period_and_add_up_to_the_totals(kind: str) -> None:
    days = saving_days() if kind == "building" else generation_days()
    figures: MonitoringFigures = monitoring_figures(kind, FIRST, LAST, days)
    months = figures.months
    assert months[0].first_day == FIRST and months[-1].last_day == LAST
    assert [m.first_day.month for m in months] == [2, 3, 4, 5]
    for before, after in pairwise(months):
        assert after.first_day == before.last_day + timedelta(days=1)
        assert after.first_day.day == 1
    for name in (
        "baseline_emissions_g",
        "project_emissions_g",
        "reductions_g",
        "energy_counterfactual_wh",
        "energy_metered_wh",
        "days_in_period",
        "days_counted",
    ):
        assert sum(getattr(m, name) for m in months) == getattr(figures.total, name), name
    assert sum((m.days_excluded for m in months), ()) == figures.total.days_excluded
    content = content_of(BUILDING if kind == "building" else PLANT, days)
    for key in ("reductions_g", "baseline_emissions_g", "days_excluded", "days_issuer_attested"):
        assert sum(m[key] for m in content["monthly"]) == content["figures"][key], key
    assert [m["month"] for m in content["monthly"]] == ["2026-02", "2026-03", "2026-04", "2026-05"]


def test_content_is_deterministic_json_and_its_hash_follows_every_figure() -> None:
    days = saving_days()
    content = content_of(BUILDING, days)
    shuffled = list(days)
    random.Random(9).shuffle(shuffled)
    again = monitoring_content(
        replace(BUILDING, meter_ids=tuple(reversed(BUILDING.meter_ids))),
        FIRST,
        LAST,
        shuffled,
        dict(reversed(FACTOR_MAP.items())),
        replace(EVIDENCE, closes_at="2026-05-08T09:15:00+09:00"),  # the same moment
    )
    assert again == content
    assert content_sha256(again) == content_sha256(content)
    assert json.loads(canonical_json(content)) == content  # JSON types only: no float, Decimal
    assert content["kind"] == "monitoring_report" and content["schema_version"] >= 1
    assert content["evidence"]["checkpoint"]["closes_at"] == "2026-05-08T00:15:00+00:00"
    assert content["project"]["meter_ids"] == sorted(BUILDING.meter_ids)
    # one gram more on one day is another report
    claim = counted(days)[-1]
    assert claim.reduction_wh is not None
    more = [
        replace(
            d,
            benchmark_wh=(d.benchmark_wh or 0) + 10,
            reduction_wh=claim.reduction_wh + 10,
            co2_avoided_g=co2_grams(claim.reduction_wh + 10, factor_of(claim)),
        )
        if d == claim
        else d
        for d in days
    ]
    other = content_of(BUILDING, more)
    assert other["figures"]["reductions_g"] != content["figures"]["reductions_g"]
    assert content_sha256(other) != content_sha256(content)
    # the evidence names the real proof routes at the cited checkpoint
    proofs = content["evidence"]["proofs"]
    n = EVIDENCE.checkpoint_number
    assert proofs["result_proof"] == f"/v1/audit/proofs/result/{{result_id}}?checkpoint={n}"
    assert [p["path"] for p in proofs["emission_factor_proofs"]] == [
        f"/v1/audit/proofs/emission_factor/{f.id}?checkpoint={n}" for f in FACTORS
    ]
    assert proofs["export"] == f"/v1/audit/export?to={n}"
    assert proofs["day_results"].startswith(f"/v1/investor/assets/{BUILDING.asset_id}/series?")


PARAMETER_KEYS = {
    "symbol",
    "definition",
    "unit",
    "measurement",
    "frequency",
    "value",
    "formula",
    "first_day",
    "last_day",
    "source",
}
# parameter units back to content units: Wh, g and kg-CO2/kWh
SCALE = {"kWh": Decimal(1000), "t-CO2": Decimal(10**6), "t-CO2/kWh": Decimal(1000)}


@pytest.mark.parametrize("project", [BUILDING, PLANT], ids=["saving", "solar"])
def test_parameter_table_states_each_parameter_fully_and_exactly(project: CreditProject) -> None:
    content = content_of(project)
    figures = content["figures"]
    parameters = content["parameters"]
    symbols = [p["symbol"] for p in parameters]
    energy = ["EL_BL", "EL_PJ"] if project.asset_kind == "building" else ["EG_PJ"]
    assert symbols == [*energy, "CEF", "CEF", "BE", "PE", "ER"]
    for p in parameters:
        assert set(p) == PARAMETER_KEYS, p["symbol"]
        assert isinstance(p["value"], str)
        for key in ("definition", "measurement", "frequency"):
            assert p[key] in EN and p[key] in JA, (p["symbol"], key)
        assert p["first_day"] >= FIRST.isoformat() and p["last_day"] <= LAST.isoformat()
    by = {p["symbol"]: p for p in parameters if p["symbol"] != "CEF"}

    def raw(symbol: str) -> Decimal:
        return Decimal(by[symbol]["value"]) * SCALE[by[symbol]["unit"]]

    assert raw("BE") == figures["baseline_emissions_g"]
    assert raw("PE") == figures["project_emissions_g"]
    assert raw("ER") == figures["reductions_g"]
    assert raw("BE") - raw("PE") == raw("ER")
    metered = "EL_PJ" if project.asset_kind == "building" else "EG_PJ"
    assert raw(metered) == figures["energy_metered_wh"]
    assert by[metered]["source"]["meter_ids"] == sorted(project.meter_ids)
    if project.asset_kind == "building":
        assert raw("EL_BL") == figures["energy_counterfactual_wh"]
        assert by["EL_BL"]["source"]["methods"] == ["series"]
    else:
        assert raw("PE") == 0
    # one CEF per factor version, with its value (t-CO2/kWh), days and source
    cef = [p for p in parameters if p["symbol"] == "CEF"]
    assert [p["source"]["factor_id"] for p in cef] == [f.id for f in FACTORS]
    for p, factor in zip(cef, FACTORS, strict=True):
        assert Decimal(p["value"]) * SCALE["t-CO2/kWh"] == factor.kg_co2_per_kwh
        assert p["source"]["document"] == factor.document
        assert factor.valid_from.isoformat() <= p["first_day"] <= p["last_day"]
        assert p["last_day"] < factor.valid_to.isoformat()  # each day used its valid version


# --- formats ------------------------------------------------------------------------------------


def test_json_round_trips_with_its_hash() -> None:
    content = content_of()
    digest = content_sha256(content)
    document = render_monitoring_report(content, digest, "json", "en")
    assert document.media_type == "application/json"
    body = json.loads(document.data)
    assert body == {"content": content, "content_sha256": digest}
    assert content_sha256(body["content"]) == digest
    assert render_monitoring_report(content, digest, "json", "ja").data == document.data
    assert re.fullmatch(
        r"monitoring-report-JCR-P0012-2026-02-20-2026-05-06-en\.json", document.filename
    )


def test_render_refuses_a_wrong_hash_format_or_language() -> None:
    content = content_of()
    digest = content_sha256(content)
    with pytest.raises(ValueError, match="content_sha256"):
        render_monitoring_report(content, "0" * 64, "csv", "en")
    with pytest.raises(ValueError, match="format"):
        render_monitoring_report(content, digest, "xlsx", "en")
    with pytest.raises(ValueError, match="lang"):
        render_monitoring_report(content, digest, "csv", "fr")


def parse_csv(data: bytes) -> tuple[list[str], dict[str, list[dict[str, str]]]]:
    """The comment lines before the first table, and each table's rows by machine header."""
    assert data.startswith(b"\xef\xbb\xbf")
    head: list[str] = []
    tables: dict[str, list[dict[str, str]]] = {}
    name: str | None = None
    header: list[str] | None = None
    for row in csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")):
        if not row:
            continue
        if row[0].startswith("# table="):
            name, header = row[0].removeprefix("# table="), None
            tables[name] = []
        elif row[0].startswith("#"):
            if name is None:
                head.append(",".join(row))
        elif header is None:
            header = [h.split(" [")[0] for h in row]
        else:
            assert name is not None
            tables[name].append(dict(zip(header, row, strict=True)))
    return head, tables


def test_csv_parses_and_carries_the_hash_and_every_figure() -> None:
    content = content_of()
    digest = content_sha256(content)
    parsed = {}
    for lang in ("en", "ja"):
        document = render_monitoring_report(content, digest, "csv", lang)
        assert document.media_type.startswith("text/csv")
        head, tables = parse_csv(document.data)
        assert head[0] == f"# gbt-credit-monitoring-report content_sha256={digest}"
        ids = dict(kv.split("=", 1) for kv in head[1].removeprefix("# ").split(" "))
        assert ids["project_id"] == str(BUILDING.project_id)
        assert (ids["first_day"], ids["last_day"]) == (FIRST.isoformat(), LAST.isoformat())
        assert ids["checkpoint_number"] == str(EVIDENCE.checkpoint_number)
        assert ids["lang"] == lang
        parsed[lang] = tables
    assert parsed["en"] == parsed["ja"]  # data rows are the same in both languages
    tables = parsed["en"]
    summary = {row["key"]: row["value"] for row in tables["summary"]}
    for key, value in content["figures"].items():
        if key == "factor_ids":
            assert summary[key] == ";".join(map(str, value))
        elif key not in ("first_day", "last_day"):
            assert int(summary[key]) == value, key
    assert [row["month"] for row in tables["monthly"]] == [m["month"] for m in content["monthly"]]
    for row, month in zip(tables["monthly"], content["monthly"], strict=True):
        assert int(row["reductions_g"]) == month["reductions_g"]
        assert int(row["energy_metered_wh"]) == month["energy_metered_wh"]
    assert [(p["symbol"], p["value"]) for p in tables["parameters"]] == [
        (p["symbol"], p["value"]) for p in content["parameters"]
    ]
    assert [json.loads(p["source"]) for p in tables["parameters"]] == [
        p["source"] for p in content["parameters"]
    ]
    assert [(x["day"], x["reasons"]) for x in tables["excluded_days"]] == [
        (x["day"], ";".join(x["reasons"])) for x in content["excluded_days"]
    ]
    assert [Decimal(f["kg_co2_per_kwh"]) for f in tables["emission_factors"]] == [
        f.kg_co2_per_kwh for f in FACTORS
    ]
    assert len(tables["days"]) == content["period"]["days"]
    counted_rows = [d for d in tables["days"] if d["counted"] == "true"]
    assert sum(int(d["reductions_g"]) for d in counted_rows) == content["figures"]["reductions_g"]
    assert all(d["reductions_g"] == "" for d in tables["days"] if d["counted"] == "false")


def pdftotext(pdf: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout


@needs_poppler
@pytest.mark.parametrize("project", [BUILDING, PLANT], ids=["saving", "solar"])
def test_pdf_prints_the_hash_the_figures_and_the_japanese_terms(
    project: CreditProject, tmp_path: Path
) -> None:
    content = content_of(project)
    digest = content_sha256(content)
    figures = content["figures"]
    for lang, terms in (("en", EN_TERMS), ("ja", JA_TERMS)):
        document = render_monitoring_report(content, digest, "pdf", lang)
        assert document.media_type == "application/pdf" and document.data.startswith(b"%PDF-")
        assert document.filename.endswith(f"-{lang}.pdf")
        pdf = tmp_path / document.filename
        pdf.write_bytes(document.data)
        text = pdftotext(pdf)
        reader = PdfReader(pdf)
        pages = text.split("\f")[: len(reader.pages)]
        for number, page in enumerate(pages, start=1):
            assert f"SHA-256 {digest}" in page, (lang, number)
        flat = re.sub(r"\s+", "", text)
        for term in terms:
            assert re.sub(r"\s+", "", term) in flat, (lang, term)  # wrapped or not
        assert project.code in text and project.methodology_id in text
        for key in ("baseline_emissions_g", "project_emissions_g", "reductions_g"):
            shown = f"{Decimal(figures[key]) / 10**6:,.6f}"
            assert shown in text, (lang, key, shown)
        assert f"{figures['reductions_t']:,} t-CO2" in text
        for p in content["parameters"]:
            assert f"{Decimal(p['value']):,}" in text, (lang, p["symbol"])
        for x in content["excluded_days"]:
            assert x["day"] in text
        meta = reader.metadata
        assert meta is not None and meta.title is not None and project.code in meta.title
        keywords = dict(k.split("=", 1) for k in str(meta["/Keywords"]).split(", ") if "=" in k)
        assert keywords["content_sha256"] == digest
        [attached] = reader.attachments["monitoring-report.json"]
        assert attached == render_monitoring_report(content, digest, "json", lang).data
        body = json.loads(attached)
        assert body["content"] == content and content_sha256(body["content"]) == digest


def test_labels_cover_both_languages() -> None:
    assert EN.keys() == JA.keys()
    content = content_of()
    for p in content["parameters"]:
        assert EN[p["definition"]] != JA[p["definition"]]


def test_pdf_without_its_system_libraries_is_a_clear_error_other_formats_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As if WeasyPrint could not be imported (even when an earlier test rendered a PDF)."""
    monkeypatch.setitem(sys.modules, "app.credits.render.pdf_format", None)
    monkeypatch.delattr(credits_render, "pdf_format", raising=False)
    content = content_of()
    digest = content_sha256(content)
    with pytest.raises(PdfUnavailableError, match="libpango"):
        render_monitoring_report(content, digest, "pdf", "ja")
    csv_document = render_monitoring_report(content, digest, "csv", "ja")
    assert csv_document.data.startswith(b"\xef\xbb\xbf# gbt-credit-monitoring-report")

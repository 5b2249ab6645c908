"""The monitoring report as CSV, laid out as the green bond report's (UTF-8 with BOM, RFC 4180,
CRLF; app/reports/render/csv_format.py): two comment lines naming the report (content hash,
project, period, checkpoint), then each table with a comment naming it, a comment with the
localized header, the machine header (``id [unit]``) and the rows.

Data rows are the content's own values in both languages: figures in Wh and g (integers),
decimals as exact text, codes and label keys as codes; only the comment lines are localized."""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from app.credits.render.tables import SUMMARY, identification, source_text
from app.reports.render.csv_format import CRLF, csv_table
from app.reports.render.labels import Labels
from app.reports.render.tables import Field, machine_text

MAGIC = "# gbt-credit-monitoring-report"
TABLE_ORDER = ("summary", "parameters", "monthly", "excluded_days", "emission_factors", "days")

PERIOD_FIGURES = (
    Field("energy_counterfactual_wh", "int", "Wh"),
    Field("energy_metered_wh", "int", "Wh"),
    Field("baseline_emissions_g", "int", "g-CO2"),
    Field("project_emissions_g", "int", "g-CO2"),
    Field("reductions_g", "int", "g-CO2"),
    Field("days_in_period", "int", "days"),
    Field("days_counted", "int", "days"),
    Field("days_excluded", "int", "days"),
    Field("days_issuer_attested", "int", "days"),
)
MONTHLY_FIELDS = (
    Field("month", "key"),
    Field("first_day"),
    Field("last_day"),
    *PERIOD_FIGURES,
)
PARAMETER_FIELDS = (
    Field("symbol", "key"),
    Field("definition"),
    Field("unit"),
    Field("value", "decimal"),
    Field("formula"),
    Field("measurement"),
    Field("frequency"),
    Field("first_day"),
    Field("last_day"),
    Field("source"),
)
EXCLUDED_FIELDS = (Field("day", "key"), Field("reasons", "list"))
FACTOR_FIELDS = (
    Field("id", "key"),
    Field("kg_co2_per_kwh", "decimal", "kg-CO2/kWh"),
    Field("region"),
    Field("kind"),
    Field("valid_from"),
    Field("valid_to"),
    Field("publisher"),
    Field("document"),
    Field("published_on"),
    Field("source_url"),
    Field("first_day"),
    Field("last_day"),
    Field("days", "int", "days"),
)
DAY_FIELDS = (
    Field("day", "key"),
    Field("counted"),
    Field("method"),
    Field("metered_wh", "int", "Wh"),
    Field("benchmark_wh", "int", "Wh"),
    Field("reduction_wh", "int", "Wh"),
    Field("co2_avoided_g", "int", "g-CO2"),
    Field("factor_id", "int"),
    Field("kg_co2_per_kwh", "decimal", "kg-CO2/kWh"),
    Field("baseline_emissions_g", "int", "g-CO2"),
    Field("project_emissions_g", "int", "g-CO2"),
    Field("reductions_g", "int", "g-CO2"),
    Field("flags", "list"),
)


def _fields_table(
    name: str, fields: Sequence[Field], rows: Iterable[Mapping[str, Any]], labels: Labels
) -> str:
    return csv_table(
        name,
        [f.header(labels, "") for f in fields],
        [f.machine_header("") for f in fields],
        ([machine_text(f, row) for f in fields] for row in rows),
    )


def _summary(content: Mapping[str, Any], labels: Labels) -> str:
    figures = content["figures"]
    rows = [[key, unit, str(figures[key])] for key, unit in SUMMARY]
    rows.append(["factor_ids", "", ";".join(str(i) for i in figures["factor_ids"])])
    return csv_table(
        "summary",
        [labels("col.key"), labels("col.unit"), labels("col.value")],
        ["key", "unit", "value"],
        rows,
    )


def render_csv(content: Mapping[str, Any], content_sha256: str, labels: Labels) -> bytes:
    ids = identification(content, content_sha256)
    parameters = [{**p, "source": source_text(p["source"])} for p in content["parameters"]]
    days = [{**d, "counted": "true" if d["counted"] else "false"} for d in content["days"]]
    blocks = {
        "summary": _summary(content, labels),
        "parameters": _fields_table("parameters", PARAMETER_FIELDS, parameters, labels),
        "monthly": _fields_table("monthly", MONTHLY_FIELDS, content["monthly"], labels),
        "excluded_days": _fields_table(
            "excluded_days", EXCLUDED_FIELDS, content["excluded_days"], labels
        ),
        "emission_factors": _fields_table(
            "emission_factors", FACTOR_FIELDS, content["emission_factors"], labels
        ),
        "days": _fields_table("days", DAY_FIELDS, days, labels),
    }
    head = (
        f"{MAGIC} content_sha256={ids['content_sha256']}{CRLF}"
        + "# "
        + " ".join(f"{k}={v}" for k, v in ids.items() if k != "content_sha256")
        + f" lang={labels.lang}{CRLF}"
    )
    text = head + CRLF.join(blocks[name] for name in TABLE_ORDER)
    return text.encode("utf-8-sig")

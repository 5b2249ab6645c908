"""The monitoring report as PDF, on the green bond report's machinery
(app/reports/render/pdf_format.py: its page, fonts, key / value tables, text grids, and the
content attached as JSON): the project and period, the emission reductions, the parameter table,
the months, the excluded and issuer-attested days, the emission factors and the evidence. Every
page's footer shows ``SHA-256 <content hash>``; the metadata keywords carry the report's ids;
the file embeds ``monitoring-report.json`` (canonical JSON of the content and its hash).

Figures are shown in kWh (3 decimals) and t-CO2 (6 decimals): the exact values of the content's
Wh and g. Imports WeasyPrint: load it through ``app.reports.render.pdf_libraries``."""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from html import escape
from typing import Any

from app.credits.render.tables import identification
from app.pure.report import Column
from app.reports.render import textgrid
from app.reports.render.labels import Labels
from app.reports.render.pdf_format import grid_table, html_document, kv_table, pdf_with_content
from app.reports.render.textgrid import Row

ATTACHMENT_NAME = "monitoring-report.json"
KWH, TONNE = 1000, 10**6


def kwh(key: str) -> Column:
    return Column(key, key, "kWh", KWH, 3)


def tonnes(key: str) -> Column:
    return Column(key, key, "t-CO2", TONNE, 6)


def _unit(labels: Labels, unit: str) -> str:
    return labels.unit(unit, "")


def _dates(first: str, last: str) -> str:
    return first if first == last else f"{first} \u2013 {last}"


def _value(text: str) -> str:
    """A parameter's exact decimal text with thousands separators, every digit kept."""
    return f"{Decimal(text):,}"


def _meta(content: Mapping[str, Any], content_sha256: str, labels: Labels) -> str:
    """Title, and keywords carrying the report's ids as ``name=value`` (WeasyPrint maps them to
    the PDF's Title and Keywords)."""
    project, period = content["project"], content["period"]
    ids = identification(content, content_sha256)
    keywords = ", ".join([*(f"{k}={v}" for k, v in ids.items()), "monitoring report"])
    title = (
        f"{labels('title')} \u2014 {project['name']} ({project['code']}) "
        f"{period['first_day']}..{period['last_day']}"
    )
    description = (
        f"{content['kind']}/{content['schema_version']} {project['code']} "
        f"{period['first_day']}..{period['last_day']}"
    )
    return (
        f"<title>{escape(title)}</title>"
        f'<meta name="keywords" content="{escape(keywords)}">'
        f'<meta name="description" content="{escape(description)}">'
    )


def _project(content: Mapping[str, Any], labels: Labels) -> str:
    project, period = content["project"], content["period"]
    days = labels("f.days").format(n=period["days"])
    rows = [
        (labels("f.project_code"), project["code"]),
        (labels("f.project_name"), project["name"]),
        (labels("f.project_id"), str(project["project_id"])),
        (labels("f.asset"), f"{project['asset_name']} (#{project['asset_id']})"),
        (labels("f.asset_kind"), labels.code("asset_kind", project["asset_kind"])),
        (labels("f.methodology"), f"{project['methodology_id']} {project['methodology_title']}"),
        (labels("f.meters"), ", ".join(str(i) for i in project["meter_ids"])),
        (labels("f.period"), f"{_dates(period['first_day'], period['last_day'])} ({days})"),
        (labels("f.calculation"), labels.code("calculation", content["calculation"])),
    ]
    if content["calculation"] == "energy_saving":
        methods = "; ".join(labels.code("method", m) for m in content["methods"])
        rows.append((labels("f.methods"), methods or "-"))
    return (
        f"<h1>{escape(labels('title'))}</h1>"
        f'<p class="subtitle">{escape(project["name"])} ({escape(project["code"])}) \u2014 '
        f"{escape(project['methodology_id'])} {escape(project['methodology_title'])}</p>"
        f"<h2>{escape(labels('h.project'))}</h2>" + kv_table(rows)
    )


def _reductions(content: Mapping[str, Any], labels: Labels) -> str:
    figures, calculation = content["figures"], content["calculation"]
    t, energy = _unit(labels, "t-CO2"), _unit(labels, "kWh")

    def emissions(key: str) -> str:
        return f"{tonnes(key).shown(figures[key])} {t}"

    def electricity(key: str) -> str:
        return f"{kwh(key).shown(figures[key])} {energy}"

    rows = [
        (labels("f.baseline_emissions"), emissions("baseline_emissions_g")),
        (labels("f.project_emissions"), emissions("project_emissions_g")),
        (labels("f.reductions"), emissions("reductions_g")),
        (labels("f.reductions_t"), f"{figures['reductions_t']:,} {t}"),
        (
            labels(f"f.energy_counterfactual.{calculation}"),
            electricity("energy_counterfactual_wh"),
        ),
        (labels(f"f.energy_metered.{calculation}"), electricity("energy_metered_wh")),
        *(
            (labels(f"f.{key}"), str(figures[key]))
            for key in ("days_in_period", "days_counted", "days_excluded", "days_issuer_attested")
        ),
    ]
    return (
        f"<h2>{escape(labels('h.reductions'))}</h2>"
        + kv_table(rows)
        + f'<p class="note">{escape(labels("note.formula"))}</p>'
        + f'<p class="note">{escape(labels("note.units"))}</p>'
    )


def _source(source: Mapping[str, Any], labels: Labels) -> str:
    parts = []
    if "meter_ids" in source:
        parts.append(f"{labels('f.meters')}: " + ", ".join(map(str, source["meter_ids"])))
    if source.get("methods"):
        parts.append("; ".join(labels.code("method", m) for m in source["methods"]))
    if "factor_id" in source:
        parts.append(f"{labels('col.factor_id')} {source['factor_id']}: {source['version']}")
        if source.get("source_url"):
            parts.append(source["source_url"])
    if source.get("factor_ids"):
        parts.append(f"{labels('col.factor_id')}: " + ", ".join(map(str, source["factor_ids"])))
    return "; ".join(parts) or "-"


def _parameters(content: Mapping[str, Any], labels: Labels) -> str:
    columns = [
        textgrid.Column(labels("col.symbol")),
        textgrid.Column(labels("col.definition"), wrap=34),
        textgrid.Column(labels("col.unit")),
        textgrid.Column(labels("col.value"), "right"),
        textgrid.Column(labels("col.formula"), wrap=12),
        textgrid.Column(labels("col.measurement"), wrap=34),
        textgrid.Column(labels("col.frequency"), wrap=18),
        textgrid.Column(labels("col.period"), wrap=12),
        textgrid.Column(labels("col.source"), wrap=34),
    ]
    rows = [
        Row(
            [
                p["symbol"],
                labels(p["definition"]),
                _unit(labels, p["unit"]),
                _value(p["value"]),
                p["formula"] or "",
                labels(p["measurement"]),
                labels(p["frequency"]),
                _dates(p["first_day"], p["last_day"]),
                _source(p["source"], labels),
            ]
        )
        for p in content["parameters"]
    ]
    return f"<h2>{escape(labels('h.parameters'))}</h2>" + grid_table(columns, rows)


def _monthly(content: Mapping[str, Any], labels: Labels) -> str:
    calculation = content["calculation"]
    t, energy = _unit(labels, "t-CO2"), _unit(labels, "kWh")
    figures: list[tuple[str, Column]] = [
        (f"{labels(f'f.energy_metered.{calculation}')} ({energy})", kwh("energy_metered_wh")),
        (f"{labels('f.baseline_emissions')} ({t})", tonnes("baseline_emissions_g")),
        (f"{labels('f.project_emissions')} ({t})", tonnes("project_emissions_g")),
        (f"{labels('col.reductions_g')} ({t})", tonnes("reductions_g")),
    ]
    if calculation == "energy_saving":  # a plant's counterfactual is its generation: not repeated
        counterfactual = labels(f"f.energy_counterfactual.{calculation}")
        figures.insert(0, (f"{counterfactual} ({energy})", kwh("energy_counterfactual_wh")))
    days = ("days_in_period", "days_counted", "days_excluded", "days_issuer_attested")
    columns = [
        textgrid.Column(labels("col.month")),
        textgrid.Column(labels("col.period")),
        *(textgrid.Column(header, "right") for header, _ in figures),
        *(textgrid.Column(labels(f"col.{key}"), "right", wrap=12) for key in days),
    ]

    def cells(row: Mapping[str, Any], name: str) -> list[str]:
        return [
            name,
            _dates(row["first_day"], row["last_day"]),
            *(column.shown(row[column.key]) for _, column in figures),
            *(str(row[key]) for key in days),
        ]

    rows = [Row(cells(m, m["month"])) for m in content["monthly"]]
    rows.append(Row(cells(content["figures"], labels("col.total")), total=True))
    return f"<h2>{escape(labels('h.monthly'))}</h2>" + grid_table(columns, rows)


def _excluded(content: Mapping[str, Any], labels: Labels) -> str:
    excluded = content["excluded_days"]
    attested = content["issuer_attested_days"]
    if excluded:
        table = grid_table(
            [textgrid.Column(labels("col.day")), textgrid.Column(labels("col.reasons"), wrap=90)],
            [
                Row([x["day"], ", ".join(labels.code("flag", r) for r in x["reasons"])])
                for x in excluded
            ],
        )
    else:
        table = f"<p>{escape(labels('none'))}</p>"
    return (
        f"<h2>{escape(labels('h.excluded'))}</h2>"
        + table
        + f'<p class="note">{escape(labels("note.excluded"))}</p>'
        + f"<h2>{escape(labels('h.attested'))}</h2>"
        + f'<p class="mono">{escape(", ".join(attested) or labels("none"))}</p>'
        + f'<p class="note">{escape(labels("note.attested"))}</p>'
    )


def _factors(content: Mapping[str, Any], labels: Labels) -> str:
    columns = [
        textgrid.Column(labels("col.id"), "right"),
        textgrid.Column(f"{labels('col.kg_co2_per_kwh')} ({_unit(labels, 'kg-CO2/kWh')})", "right"),
        textgrid.Column(labels("col.region"), wrap=14),
        textgrid.Column(labels("col.valid_from")),
        textgrid.Column(labels("col.valid_to")),
        textgrid.Column(labels("col.publisher"), wrap=24),
        textgrid.Column(labels("col.document"), wrap=36),
        textgrid.Column(labels("col.published_on")),
        textgrid.Column(labels("col.source_url"), wrap=30),
        textgrid.Column(labels("col.period"), wrap=12),
        textgrid.Column(labels("col.days"), "right"),
    ]
    rows = [
        Row(
            [
                str(f["id"]),
                f["kg_co2_per_kwh"],
                f["region"],
                f["valid_from"],
                f["valid_to"],
                f["publisher"],
                f["document"],
                f["published_on"],
                f["source_url"] or "-",
                _dates(f["first_day"], f["last_day"]),
                str(f["days"]),
            ]
        )
        for f in content["emission_factors"]
    ]
    body = grid_table(columns, rows) if rows else f"<p>{escape(labels('none'))}</p>"
    return f"<h2>{escape(labels('h.factors'))}</h2>" + body


def _evidence(content: Mapping[str, Any], content_sha256: str, labels: Labels) -> str:
    cp, proofs = content["evidence"]["checkpoint"], content["evidence"]["proofs"]
    rows: Sequence[tuple[str, str]] = [
        (labels("f.checkpoint_number"), str(cp["number"])),
        (labels("f.tree_size"), str(cp["tree_size"])),
        (labels("f.root"), cp["root_hex"]),
        (labels("f.chain_id"), str(cp["chain_id"])),
        (labels("f.contract"), cp["contract_address"]),
        (labels("f.tx_hash"), cp["tx_hash"] or "-"),
        (labels("f.block_number"), "-" if cp["block_number"] is None else str(cp["block_number"])),
        (labels("f.closes_at"), cp["closes_at"]),
        (labels("f.methodology_hash"), cp["methodology_hash_hex"] or "-"),
        (labels("f.content_sha256"), content_sha256),
    ]
    links = [
        (labels("ev.day_results"), proofs["day_results"]),
        (labels("ev.result_proof"), proofs["result_proof"]),
        *(
            (labels("ev.emission_factor_proof").format(factor_id=p["factor_id"]), p["path"])
            for p in proofs["emission_factor_proofs"]
        ),
        (labels("ev.export"), proofs["export"]),
    ]
    return (
        f"<h2>{escape(labels('h.evidence'))}</h2>"
        f'<p class="note">{escape(labels("note.evidence"))}</p>'
        + kv_table(rows, mono=True)
        + f"<h3>{escape(labels('h.proofs'))}</h3>"
        + f'<p class="note">{escape(labels("note.proofs"))}</p>'
        + kv_table(links, mono=True)
    )


def document_html(content: Mapping[str, Any], content_sha256: str, labels: Labels) -> str:
    """The whole report as one HTML document (pure)."""
    return html_document(
        content_sha256,
        labels,
        _meta(content, content_sha256, labels),
        _project(content, labels)
        + _reductions(content, labels)
        + _parameters(content, labels)
        + _monthly(content, labels)
        + _excluded(content, labels)
        + _factors(content, labels)
        + _evidence(content, content_sha256, labels),
    )


def render_pdf(content: Mapping[str, Any], content_sha256: str, labels: Labels) -> bytes:
    closes_at = content["evidence"]["checkpoint"]["closes_at"]
    return pdf_with_content(
        document_html(content, content_sha256, labels),
        content,
        content_sha256,
        f"{content['kind']}/{content['schema_version']} content_sha256={content_sha256}",
        datetime.fromisoformat(closes_at).astimezone(UTC),
        ATTACHMENT_NAME,
    )

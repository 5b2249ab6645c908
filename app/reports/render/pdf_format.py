"""The report as PDF: HTML and CSS generated here (every content string HTML-escaped), laid out
by WeasyPrint. A4 landscape: title block, allocation, impact, the monthly table and the two
charts, methodology, evidence. Every page's footer shows ``SHA-256 <content hash>`` and
``page x / y``; the document's metadata carry the title and ``content_sha256=<hex>``; the file
embeds ``report.json`` (canonical JSON of the content and its hash), from which the verifier
recomputes the hash and the figures.

Long tables are text grids (app/reports/render/textgrid.py) so that a report of 1,000 projects
renders in seconds. The grids, and all text of a Japanese report, are in IPAGothic (embedded,
subset): its fixed pitch is what aligns the grids, and it carries the Japanese; English prose is
in DejaVu Sans. Nothing is bold: IPAGothic has no bold face, and a synthesized one is not worth
the risk of doubled glyphs in the extracted text. Project codes never wrap, so the verifier
finds each project's figures on the pages that show its code."""

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from weasyprint import HTML, Attachment  # type: ignore[import-untyped]

from app.pure.encoding import canonical_json
from app.reports.render import textgrid
from app.reports.render.charts import co2_chart, energy_chart
from app.reports.render.labels import Labels
from app.reports.render.tables import (
    AMOUNT,
    FACTOR_FIELDS,
    MONTHLY_FIELDS,
    TOTAL_FIELDS,
    Field,
    figure_tables,
    identification,
    report_title,
    shown,
)
from app.reports.render.textgrid import Row

ATTACHMENT_NAME = "report.json"
FONT_URL = textgrid.FONT_PATH.as_uri()
# A4 landscape less 12 mm margins each side, in the grid's half-width units.
CONTENT_WIDTH_PT = (297 - 2 * 12) / 25.4 * 72
GRID_UNITS = int(CONTENT_WIDTH_PT / (textgrid.FONT_PT / 2)) - 1

CSS = """
@font-face { font-family: "IPAGothic"; src: url("%(font_url)s"), local("IPAGothic"); }
@page {
  size: A4 landscape; margin: 12mm 12mm 14mm 12mm;
  @bottom-left { content: "SHA-256 %(sha)s"; font: 7pt "IPAGothic", monospace; }
  @bottom-right { content: "%(page)s " counter(page) " / " counter(pages); font: 7pt "IPAGothic"; }
}
html { font-family: %(body_font)s; font-size: 8pt; color: #111; }
h1 { font-size: 17pt; font-weight: normal; margin: 0 0 1mm; }
h2 { font-size: 12pt; font-weight: normal; margin: 6mm 0 2mm; padding-bottom: 0.5mm;
     border-bottom: 0.8pt solid #1f6fb2; break-after: avoid; }
h3 { font-size: 9.5pt; font-weight: normal; margin: 4mm 0 1.5mm; break-after: avoid; }
th { font-weight: normal; }
p { margin: 1mm 0; }
p.note { font-size: 7pt; color: #444; max-width: 250mm; }
p.subtitle { font-size: 10pt; margin-bottom: 4mm; }
table.kv { border-collapse: collapse; margin: 1mm 0 2mm; }
table.kv th { text-align: left; color: #555; padding: 0.6mm 5mm 0.6mm 0; vertical-align: top; }
table.kv td { padding: 0.6mm 0; overflow-wrap: anywhere; max-width: 200mm; }
.mono { font-family: "IPAGothic", monospace; }
table.grid { border-collapse: collapse; font-family: "IPAGothic", monospace;
             font-size: %(grid_pt)spt; margin: 1mm 0 2mm; table-layout: fixed; width: 100%%; }
table.grid th, table.grid td { white-space: pre; text-align: left; padding: 0.5pt 0; }
table.grid th { border-bottom: 0.8pt solid #333; color: #333; }
table.grid td { border-bottom: 0.3pt solid #ccc; }
table.grid tr.total td { background: #e8eef5; border-top: 0.8pt solid #333; }
div.charts svg { display: inline-block; margin: 0 6mm 2mm 0; }
"""


def kv_table(rows: Sequence[tuple[str, str]], mono: bool = False) -> str:
    cls = ' class="mono"' if mono else ""
    return (
        '<table class="kv">'
        + "".join(f"<tr><th>{escape(k)}</th><td{cls}>{escape(v)}</td></tr>" for k, v in rows)
        + "</table>"
    )


def grid_table(columns: Sequence[textgrid.Column], rows: Sequence[Row]) -> str:
    return textgrid.grid_html(columns, rows, GRID_UNITS)


def _col(field: Field, labels: Labels, currency: str, wrap: int | None = None) -> textgrid.Column:
    header = field.header(labels, currency)
    if field.kind in ("figure", "decimal", "int"):
        return textgrid.Column(header, "right", wrap)
    return textgrid.Column(header, "left", wrap)


def _period(period: Mapping[str, Any]) -> str:
    dates = f"{period['start']} \u2013 {period['end']}"
    return dates if period["kind"] == "range" else f"{period['label']} ({dates})"


def _title_block(content: Mapping[str, Any], labels: Labels) -> str:
    bond, period, cp = content["bond"], content["period"], content["checkpoint"]
    amount = f"{AMOUNT.shown(bond['amount_issued'])} {bond['currency']}"
    rows = [
        (labels("f.bond"), bond["name"]),
        (labels("f.bond_code"), bond["code"]),
        (labels("f.issuer"), bond["issuer"]),
        (labels("f.amount_issued"), amount),
        (labels("f.issue_date"), bond["issue_date"]),
        (labels("f.maturity_date"), bond["maturity_date"]),
        (labels("f.period"), _period(period)),
        (labels("f.counted_from"), period["counted_from"]),
        (labels("f.status"), labels.code("status", content["status"])),
        (labels("f.checkpoint"), f"#{cp['number']} ({cp['closes_at']})"),
    ]
    return (
        f"<h1>{escape(labels('title'))}</h1>"
        f'<p class="subtitle">{escape(bond["name"])} ({escape(bond["code"])}) — '
        f"{escape(bond['issuer'])}</p>"
        f"<h2>{escape(labels('h.summary'))}</h2>"
        + kv_table(rows)
        + f'<p class="note">{escape(labels("note." + content["status"]))}</p>'
    )


def _financing(row: Mapping[str, Any], labels: Labels) -> str:
    text = labels.code("financing_type", row["financing_type"])
    if row.get("lookback_years") is not None:
        text += labels("f.lookback").format(years=row["lookback_years"])
    return text


def _total_label(field: Field, labels: Labels, currency: str) -> str:
    label = labels(f"total.{field.id}")
    return f"{label} ({labels.unit(field.unit, currency)})" if field.unit else label


def _allocation(content: Mapping[str, Any], labels: Labels, currency: str) -> str:
    f = {field.id: field for field in figure_tables(content)["allocation"].fields}
    plan: list[tuple[str, int | None]] = [
        ("eligible_category", 20),
        ("asset_code", None),
        ("project_name", 28),
        ("description", 80),
        ("location", 16),
        ("progress", None),
        ("amount_allocated", None),
        ("financing_share", None),
        ("project_cost", None),
        ("financing_type", 22),
        ("allocated_on", None),
        ("allocation_id", None),
    ]
    columns = [_col(f[name], labels, currency, wrap) for name, wrap in plan]
    rows = [
        Row(
            [
                _financing(p, labels) if name == "financing_type" else shown(f[name], p, labels)
                for name, _ in plan
            ]
        )
        for p in content["allocation"]["projects"]
    ]
    totals = content["allocation"]["totals"]
    total_rows = [
        (
            _total_label(field, labels, currency),
            labels("note.unallocated_held_as")
            if totals.get(field.id) is None
            else shown(field, totals, labels),
        )
        for field in TOTAL_FIELDS
    ]
    return (
        f"<h2>{escape(labels('h.allocation'))}</h2>"
        + grid_table(columns, rows)
        + f"<h3>{escape(labels('h.allocation_totals'))}</h3>"
        + kv_table(total_rows)
    )


def _impact(content: Mapping[str, Any], labels: Labels, currency: str) -> str:
    table = figure_tables(content)["impact"]
    f = {field.id: field for field in table.fields}
    metered: list[tuple[str, int | None]] = [
        ("asset_code", None),
        ("project_name", 24),
        ("eligible_category", 20),
        ("energy_savings_mwh", None),
        ("generation_mwh", None),
        ("co2_avoided_t", None),
        ("attributed_energy_savings_mwh", None),
        ("attributed_generation_mwh", None),
        ("attributed_co2_avoided_t", None),
        ("metered_mwh", None),
        ("benchmark_mwh", None),
    ]
    expected: list[tuple[str, int | None]] = [
        ("asset_code", None),
        ("capacity_mw", None),
        ("expected_energy_savings_mwh", None),
        ("energy_savings_mwh", None),
        ("expected_generation_mwh", None),
        ("generation_mwh", None),
        ("expected_co2_avoided_t", None),
        ("co2_avoided_t", None),
        ("days_reported", None),
        ("days_expected", None),
        ("data_coverage", None),
        ("provisional_days", None),
        ("flags", 32),
    ]
    uncertainty: list[tuple[str, int | None]] = [
        ("asset_code", None),
        ("energy_savings_mwh", None),
        ("savings_uncertainty_68_mwh", None),
        ("savings_uncertainty_90_mwh", None),
        ("attributed_energy_savings_mwh", None),
        ("attributed_savings_uncertainty_68_mwh", None),
        ("attributed_savings_uncertainty_90_mwh", None),
    ]
    credits: list[tuple[str, int | None]] = [
        ("asset_code", None),
        ("project_name", 24),
        ("co2_avoided_t", None),
        ("attributed_co2_avoided_t", None),
        ("credited_co2_avoided_t", None),
        ("claimable_co2_avoided_t", None),
    ]
    *projects, portfolio = table.rows

    def total_cell(name: str) -> str:
        if name == "asset_code":
            return labels("portfolio")
        field = f[name]
        return "" if field.kind in ("text", "code") else shown(field, portfolio, labels)

    def grid(plan: list[tuple[str, int | None]]) -> str:
        columns = [_col(f[name], labels, currency, wrap) for name, wrap in plan]
        rows = [Row([shown(f[name], p, labels) for name, _ in plan]) for p in projects]
        rows.append(Row([total_cell(name) for name, _ in plan], total=True))
        return grid_table(columns, rows)

    return (
        f"<h2>{escape(labels('h.impact'))}</h2>"
        f"<h3>{escape(labels('h.impact_metered'))}</h3>"
        + grid(metered)
        + f'<p class="note">{escape(labels("note.figures"))}</p>'
        + f"<h3>{escape(labels('h.impact_expected'))}</h3>"
        + grid(expected)
        + f'<p class="note">{escape(labels("note.coverage"))}</p>'
        + f"<h3>{escape(labels('h.impact_uncertainty'))}</h3>"
        + grid(uncertainty)
        + f'<p class="note">{escape(labels("note.uncertainty"))}</p>'
        + f"<h3>{escape(labels('h.impact_credits'))}</h3>"
        + grid(credits)
        + f'<p class="note">{escape(labels("note.credits"))}</p>'
    )


def _monthly(content: Mapping[str, Any], labels: Labels, currency: str) -> str:
    monthly = content["impact"]["monthly"]
    columns = [_col(field, labels, currency) for field in MONTHLY_FIELDS]
    rows = [Row([shown(field, m, labels) for field in MONTHLY_FIELDS]) for m in monthly]
    return (
        f"<h2>{escape(labels('h.monthly'))}</h2>"
        + grid_table(columns, rows)
        + f'<div class="charts">{energy_chart(monthly, labels)}{co2_chart(monthly, labels)}</div>'
    )


def _methodology(content: Mapping[str, Any], labels: Labels, currency: str) -> str:
    projects = content["impact"]["projects"]
    used = Counter(m for p in projects for m in p["methods"])
    methods = grid_table(
        [
            textgrid.Column(labels("col.methods"), wrap=32),
            textgrid.Column(labels("h.methods"), wrap=80),
            textgrid.Column(labels("f.projects"), "right"),
        ],
        [Row([m, labels.code("method", m.split("/")[0]), str(n)]) for m, n in sorted(used.items())],
    )
    metric_keys = ("model_type", "n_days", "r_squared", "adj_r_squared", "cvrmse", "nmbe")
    fits = [
        Row(
            [
                p["asset_code"],
                str(fit["id"]),
                *(str(fit["metrics"].get(k, "-")) for k in metric_keys),
                fit["summary"] or "",
            ]
        )
        for p in projects
        for fit in p["baseline_fits"]
    ]
    fit_columns = [
        textgrid.Column(labels("col.asset_code"), wrap=16),
        textgrid.Column(labels("col.fit_id"), "right"),
        *(
            textgrid.Column(labels(f"col.{k}"), "left" if k == "model_type" else "right")
            for k in metric_keys
        ),
        textgrid.Column(labels("col.summary"), wrap=70),
    ]
    wraps = {"publisher": 28, "document": 40, "source_url": 40, "region": 16, "kind": 24}
    factors = grid_table(
        [_col(field, labels, currency, wraps.get(field.id)) for field in FACTOR_FIELDS],
        [
            Row([shown(field, row, labels) for field in FACTOR_FIELDS])
            for row in content["impact"]["emission_factors"]
        ],
    )
    return (
        f"<h2>{escape(labels('h.methodology'))}</h2>"
        f"<h3>{escape(labels('h.methods'))}</h3>"
        + methods
        + f"<h3>{escape(labels('h.fits'))}</h3>"
        + (grid_table(fit_columns, fits) if fits else "<p>-</p>")
        + f"<h3>{escape(labels('h.factors'))}</h3>"
        + factors
        + f'<p class="note">{escape(labels("note.factors"))}</p>'
    )


def _evidence(content: Mapping[str, Any], content_sha256: str, labels: Labels) -> str:
    cp = content["checkpoint"]
    rows = [
        (labels("f.checkpoint_number"), str(cp["number"])),
        (labels("f.tree_size"), str(cp["tree_size"])),
        (labels("f.root"), cp["root_hex"]),
        (labels("f.chain_id"), str(cp["chain_id"])),
        (labels("f.contract"), cp["contract_address"]),
        (labels("f.tx_hash"), cp["tx_hash"] or "-"),
        (labels("f.block_number"), str(cp["block_number"])),
        (labels("f.closes_at"), cp["closes_at"]),
        (labels("f.methodology_hash"), cp["methodology_hash_hex"]),
        (labels("f.content_sha256"), content_sha256),
    ]
    links = [
        (labels.code("ev", key), str(value))
        for key, value in content["evidence"].items()
        if key != "checkpoint_number"
    ]
    return (
        f"<h2>{escape(labels('h.evidence'))}</h2>"
        f'<p class="note">{escape(labels("note.evidence"))}</p>'
        + kv_table(rows, mono=True)
        + f"<h3>{escape(labels('h.proofs'))}</h3>"
        + f'<p class="note">{escape(labels("note.proofs"))}</p>'
        + kv_table(links, mono=True)
    )


def _meta(content: Mapping[str, Any], content_sha256: str, labels: Labels) -> str:
    """Title, and keywords carrying the report leaf's ids as ``name=value`` (WeasyPrint maps them
    to the PDF's Title and Keywords)."""
    ids = identification(content, content_sha256)
    keywords = ", ".join([*(f"{k}={v}" for k, v in ids.items()), "green bond report"])
    description = (
        f"{content['format']} {content['bond']['code']} {content['period']['label']} "
        f"{content['status']}"
    )
    return (
        f"<title>{escape(report_title(content, labels))}</title>"
        f'<meta name="keywords" content="{escape(keywords)}">'
        f'<meta name="description" content="{escape(description)}">'
        f'<meta name="author" content="{escape(content["bond"]["issuer"])}">'
    )


def stylesheet(content_sha256: str, labels: Labels) -> str:
    """The page (A4 landscape, the hash and page number in every footer), fonts and grids."""
    body_font = (
        '"IPAGothic", sans-serif'
        if labels.lang == "ja"
        else ('"DejaVu Sans", "IPAGothic", sans-serif')
    )
    return CSS % {
        "font_url": FONT_URL,
        "sha": content_sha256,
        "page": labels("page"),
        "body_font": body_font,
        "grid_pt": textgrid.FONT_PT,
    }


def html_document(content_sha256: str, labels: Labels, head: str, body: str) -> str:
    """A document of ``body`` with ``head`` (title and metadata) and the stylesheet."""
    return (
        f'<!DOCTYPE html><html lang="{labels.lang}"><head><meta charset="utf-8">'
        f"{head}<style>{stylesheet(content_sha256, labels)}</style></head><body>"
        + body
        + "</body></html>"
    )


def document_html(content: Mapping[str, Any], content_sha256: str, labels: Labels) -> str:
    """The whole report as one HTML document (pure)."""
    currency = content["bond"]["currency"]
    return html_document(
        content_sha256,
        labels,
        _meta(content, content_sha256, labels),
        _title_block(content, labels)
        + _allocation(content, labels, currency)
        + _impact(content, labels, currency)
        + _monthly(content, labels, currency)
        + _methodology(content, labels, currency)
        + _evidence(content, content_sha256, labels),
    )


def attachment_bytes(content: Mapping[str, Any], content_sha256: str) -> bytes:
    return canonical_json({"content": dict(content), "content_sha256": content_sha256})


def pdf_with_content(
    html: str,
    content: Mapping[str, Any],
    content_sha256: str,
    description: str,
    when: datetime,
    name: str = ATTACHMENT_NAME,
) -> bytes:
    """``html`` laid out as PDF, the content and its hash attached as ``name``
    (``attachment_bytes``) dated ``when``: a fixed moment of the content (its checkpoint's), so
    the same content gives the same attachment."""
    attachment = Attachment(
        string=attachment_bytes(content, content_sha256),
        name=name,
        description=description,
        created=when,
        modified=when,
        relationship="Source",
    )
    pdf: bytes = HTML(string=html).write_pdf(attachments=[attachment])
    return pdf


def render_pdf(content: Mapping[str, Any], content_sha256: str, labels: Labels) -> bytes:
    return pdf_with_content(
        document_html(content, content_sha256, labels),
        content,
        content_sha256,
        f"{content['format']} content_sha256={content_sha256}",
        datetime.fromisoformat(content["checkpoint"]["closes_at"]).astimezone(UTC),
    )

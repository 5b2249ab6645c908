"""The report's CSV, XLSX and PDF (English and Japanese) against the JSON report of the same
request, on the real pipeline (tests/test_reports.py's bond, a real Anvil node): every figure of
the allocation and impact tables equals ``Column.value`` of the JSON field (CSV: exact decimal
text; XLSX: numeric cells), each file carries the content hash and the report leaf's ids as the
format contract says (docs/reporting.md), the PDF shows the figures as ``Column.shown``, embeds
IPAGothic and a report.json attachment whose content hashes to the footer's hash. Pages are
rendered to PNG in test-artifacts/reports/. Also: the charts read back from their SVG, text
wrapping, and the rows of a many-project PDF kept whole."""

# Japanese text uses full-width brackets and colons: they are meant, not look-alikes.
# ruff: noqa: RUF001

import csv
import io
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook  # type: ignore[import-untyped]
from pypdf import PdfReader

from app.pure.encoding import canonical_json
from app.pure.report import (
    ALLOCATION_COLUMNS,
    IMPACT_COLUMNS,
    PORTFOLIO_KEY,
    AssetFigures,
    Column,
    MonthFigures,
    ReportPeriod,
    content_sha256,
    monthly_rows,
    months_of,
)
from app.reports.render import render
from app.reports.render.charts import co2_chart, energy_chart
from app.reports.render.labels import EN, JA, labels
from app.reports.render.textgrid import FONT_PATH, text_width, wrap
from tests import test_reports as base
from tests.chain_helpers import Chain
from tests.conftest import ADMIN, Fleet, app_state
from tests.impact_helpers import run_pipeline

ARTIFACTS = base.ARTIFACTS
PERIOD = {"start": base.ISSUE.isoformat(), "end": "2026-01-10"}
SHEETS = ["allocation", "impact", "monthly", "emission_factors", "evidence"]
CSV_TABLES = ["allocation", "allocation_totals", "impact", "monthly", "emission_factors"]
PDF_TOOLS = ("pdftotext", "pdftoppm", "pdffonts")
needs_poppler = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in PDF_TOOLS),
    reason="poppler-utils (pdftotext, pdftoppm, pdffonts) not installed: PDF checks skipped",
)
# The Ministry of the Environment guidelines' reporting terms the Japanese PDF must show.
MOE_TERMS = ("事業区分", "具体的事業", "事業概要", "進捗状況", "充当額", "環境改善効果")
DESCRIPTION_JA = "研究棟のZEB化改修：外皮断熱、LED照明、空調の高効率化、屋上太陽光発電"


# --- the pipeline's report ---------------------------------------------------------------------


def report(client: TestClient, fleet: Fleet, chain: Chain) -> dict[str, Any]:
    """tests/test_reports.py's bond with some of the issuer's report details declared (so both
    empty and declared columns show), anchored; the JSON API body."""
    ids = base.setup(client, fleet)
    run_pipeline(client, chain)
    allocations = client.get(
        "/v1/admin/allocations", params={"bond_id": ids["bond"]}, headers=ADMIN
    ).json()["items"]
    by_asset = {a["asset_id"]: a["id"] for a in allocations}
    puts = {
        f"allocations/{by_asset[ids['plant']]}": {
            "eligible_category": "renewable_energy",
            "project_cost": "900000",
            "refinancing": True,
            "lookback_years": 3,
            "expected_generation_mwh": "120.5",
            "expected_co2_avoided_t": "52.3",
        },
        f"assets/{ids['plant']}": {"location": "千葉県", "capacity_kw": "95.5"},
        f"assets/{ids['building']}": {"description": DESCRIPTION_JA},
        f"bonds/{ids['bond']}": {"unallocated_held_as": "Bank deposits"},
    }
    for path, body in puts.items():
        response = client.put(f"/v1/admin/{path}/report-details", json=body, headers=ADMIN)
        assert response.status_code == 200, response.text
    return base.get_report(client, ids["bond"], **PERIOD)  # type: ignore[no-any-return]


def download(client: TestClient, body: Mapping[str, Any], fmt: str, lang: str) -> bytes:
    content = body["content"]
    response = client.get(
        f"/v1/investor/bonds/{content['bond']['id']}/reports/annual",
        params={**PERIOD, "format": fmt, "lang": lang},
    )
    assert response.status_code == 200, response.text
    disposition = response.headers["content-disposition"]
    name = re.fullmatch(r'attachment; filename="([A-Za-z0-9_.-]+)"', disposition)
    assert name and name.group(1).endswith(f"-{lang}.{fmt}"), disposition
    assert content["bond"]["code"] in name.group(1)
    data: bytes = response.content
    return data


def identification(body: Mapping[str, Any]) -> dict[str, Any]:
    content = body["content"]
    return {
        "content_sha256": body["content_sha256"],
        "bond_id": content["bond"]["id"],
        "period_start": content["period"]["start"],
        "period_end": content["period"]["end"],
        "checkpoint_number": content["checkpoint"]["number"],
        "checkpoint_tree_size": content["checkpoint"]["tree_size"],
    }


def machine_id(column: Column, currency: str) -> str:
    return f"{column.id} [{currency if column.unit == 'currency' else column.unit}]"


def expected_rows(content: Mapping[str, Any]) -> dict[str, dict[Any, Mapping[str, Any]]]:
    """The JSON's allocation and impact rows by key (the impact table ends with the portfolio)."""
    impact = {p["asset_id"]: p for p in content["impact"]["projects"]}
    impact[PORTFOLIO_KEY] = content["impact"]["portfolio"]
    return {
        "allocation": {p["asset_id"]: p for p in content["allocation"]["projects"]},
        "impact": impact,
    }


FIGURE_COLUMNS = {"allocation": ALLOCATION_COLUMNS, "impact": IMPACT_COLUMNS}


# --- CSV ---------------------------------------------------------------------------------------


def csv_tables(text: str) -> tuple[list[str], dict[str, list[list[str]]]]:
    """The two head comment lines and each table's rows (machine header first), by name."""
    rows = list(csv.reader(io.StringIO(text, newline="")))
    head = [",".join(r) for r in rows[:2]]
    tables: dict[str, list[list[str]]] = {}
    name = None
    for row in rows[2:]:
        if not row:
            name = None
        elif row[0].startswith("# table="):
            name = row[0].removeprefix("# table=")
            tables[name] = []
        elif row[0].startswith("# "):
            continue  # the localized header
        else:
            assert name is not None, row
            tables[name].append(row)
    return head, tables


def test_csv_and_xlsx_figures_equal_the_json(
    client: TestClient, fleet: Fleet, chain: Chain
) -> None:
    body = report(client, fleet, chain)
    content, digest = body["content"], body["content_sha256"]
    currency = content["bond"]["currency"]
    expected = expected_rows(content)
    data_rows: dict[str, Any] = {}
    for lang in ("en", "ja"):
        raw = download(client, body, "csv", lang)
        assert raw.startswith(b"\xef\xbb\xbf")
        text = raw.decode("utf-8-sig")
        assert "\n" not in text.replace("\r\n", ""), "every line ends with CRLF"
        head, tables = csv_tables(text)
        assert head[0] == f"# gbt-green-bond-report content_sha256={digest}"
        fields = dict(pair.split("=", 1) for pair in head[1].removeprefix("# ").split(" "))
        ids = {k: str(v) for k, v in identification(body).items() if k != "content_sha256"}
        assert fields == ids | {"lang": lang}
        assert list(tables) == CSV_TABLES
        for name, columns in FIGURE_COLUMNS.items():
            header, *rows = tables[name]
            assert header[0] == "asset_id"
            by_key = {
                (r[0] if r[0] == PORTFOLIO_KEY else int(r[0])): dict(zip(header, r, strict=True))
                for r in rows
            }
            assert list(by_key) == list(expected[name])  # every row, in order, once
            for key, row in expected[name].items():
                for column in columns:
                    cell = by_key[key][machine_id(column, currency)]
                    value = column.value(row[column.key])
                    if value is None:
                        assert cell == "", (name, key, column.id)
                    else:
                        assert re.fullmatch(r"-?\d+(\.\d+)?", cell), cell
                        assert Decimal(cell) == value, (name, key, column.id)
        totals = dict(tables["allocation_totals"][1:])
        assert tables["allocation_totals"][0] == ["key", "value"]
        assert totals == {k: v or "" for k, v in content["allocation"]["totals"].items()}
        assert len(tables["monthly"]) - 1 == len(content["impact"]["monthly"])
        assert len(tables["emission_factors"]) - 1 == len(content["impact"]["emission_factors"])
        data_rows[lang] = tables

        # XLSX: the same figures as numbers, the same machine header, the hash in properties.
        wb = load_workbook(io.BytesIO(download(client, body, "xlsx", lang)))
        assert wb.sheetnames == SHEETS
        props = {p.name: p.value for p in wb.custom_doc_props.props}
        assert props == identification(body)
        assert f"content_sha256={digest}" in wb.properties.keywords
        assert content["bond"]["code"] in wb.properties.title
        for name, columns in FIGURE_COLUMNS.items():
            ws = wb[name]
            sheet_header: list[Any] = [c.value for c in ws[2]]
            assert sheet_header == tables[name][0]
            sheet_rows = list(ws.iter_rows(min_row=3, values_only=True))
            cells: dict[Any, dict[str, Any]] = {
                r[0]: dict(zip(sheet_header, r, strict=True)) for r in sheet_rows
            }
            assert list(cells) == list(expected[name])
            assert all(isinstance(k, int) for k in list(cells)[: len(content[name]["projects"])])
            for key, row in expected[name].items():
                for column in columns:
                    number = cells[key][machine_id(column, currency)]
                    value = column.value(row[column.key])
                    if value is None:
                        assert number is None, (name, key, column.id)
                    else:
                        assert type(number) in (int, float), (name, key, column.id, number)
                        assert Decimal(str(number)) == value, (name, key, column.id)
            by_machine_id = {machine_id(c, currency): c for c in columns}
            for index, machine in enumerate(sheet_header, start=1):
                if machine in by_machine_id:  # the unit's decimals, as the PDF shows them
                    fmt = ws.cell(3, index).number_format
                    places = fmt.split(".")[1].count("0") if "." in fmt else 0
                    assert places == by_machine_id[machine].places, (name, machine, fmt)
            labels_row = [c.value for c in ws[1]]
            amount = "充当額 (JPY)" if lang == "ja" else "Amount allocated (JPY)"
            assert name != "allocation" or amount in labels_row
        evidence = {r[0]: r[1] for r in wb["evidence"].iter_rows(values_only=True)}
        for key, value in identification(body).items():
            assert evidence[key] == value
    # The data rows are one table in both languages: only the comment lines are localized.
    assert data_rows["en"] == data_rows["ja"]

    # A hash that is not the content's is never embedded; file names stay safe; text that a
    # worksheet cannot hold (control characters) or that looks like markup renders anyway.
    with pytest.raises(ValueError):
        render(content, "0" * 64, "csv", "en")
    odd = json.loads(json.dumps(content))
    odd["bond"]["code"] = 'GB/2026 東京 "x"'
    odd["allocation"]["projects"][0]["description"] = "a\x01b\tc\n</style><b>&amp;"
    for fmt in ("csv", "xlsx", "pdf"):
        document = render(odd, content_sha256(odd), fmt, "ja")
        assert re.fullmatch(rf"green-bond-report-[A-Za-z0-9_-]+-ja\.{fmt}", document.filename)
    workbook = load_workbook(io.BytesIO(render(odd, content_sha256(odd), "xlsx", "en").data))
    assert [c.value for c in workbook["allocation"][3] if c.value and "</style>" in str(c.value)]


# --- PDF ---------------------------------------------------------------------------------------


def pdftotext(pdf: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout


def embedded_fonts(pdf: Path) -> Iterator[tuple[str, str, str]]:
    """(name, embedded, subset) of each font pdffonts lists."""
    out = subprocess.run(["pdffonts", str(pdf)], check=True, capture_output=True, text=True)
    for line in out.stdout.splitlines()[2:]:
        parts = line.split()
        yield parts[0], parts[-5], parts[-4]


def database_of(client: TestClient) -> str:
    """The database's dialect ("sqlite" or "postgresql"): each run of a test writes files of
    its own in ARTIFACTS, since the two may run at once (on two pytest-xdist workers)."""
    name: str = app_state(client).engine.dialect.name
    return name


def render_pages(pdf: Path, prefix: str) -> list[Path]:
    for old in ARTIFACTS.glob(f"{prefix}-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(pdf), str(ARTIFACTS / prefix)], check=True)
    return sorted(ARTIFACTS.glob(f"{prefix}-*.png"))


@needs_poppler
def test_pdf_shows_the_figures_and_embeds_hash_font_and_json(
    client: TestClient, fleet: Fleet, chain: Chain
) -> None:
    body = report(client, fleet, chain)
    content, digest = body["content"], body["content_sha256"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    db = database_of(client)
    for lang in ("en", "ja"):
        pdf = ARTIFACTS / f"report-{db}-{lang}.pdf"
        pdf.write_bytes(download(client, body, "pdf", lang))
        text = pdftotext(pdf)
        reader = PdfReader(pdf)
        pages = text.split("\f")[: len(reader.pages)]
        for number, page in enumerate(pages, start=1):
            assert f"SHA-256 {digest}" in page, number
            assert f"{number} / {len(reader.pages)}" in page, number
        assert set(re.findall(r"SHA-256 ([0-9a-f]{64})", text)) == {digest}

        # What the verifier checks: each recomputed figure of each row, as shown, is visible.
        for name, rows in expected_rows(content).items():
            for key, row in rows.items():
                for column in FIGURE_COLUMNS[name]:
                    if column.recomputed:
                        assert column.shown(row[column.key]) in text, (lang, name, key, column)

        meta = reader.metadata
        assert meta is not None and meta.title is not None
        assert content["bond"]["code"] in meta.title
        assert content["period"]["label"] in meta.title
        keywords = dict(k.split("=", 1) for k in str(meta["/Keywords"]).split(", ") if "=" in k)
        assert keywords == {k: str(v) for k, v in identification(body).items()}

        [attached] = reader.attachments["report.json"]
        parsed = json.loads(attached)
        assert attached == canonical_json(parsed)
        assert parsed["content"] == content
        assert content_sha256(parsed["content"]) == parsed["content_sha256"] == digest

        fonts = list(embedded_fonts(pdf))
        assert any("IPAGothic" in name and emb == sub == "yes" for name, emb, sub in fonts), fonts
        if lang == "ja":
            for term in MOE_TERMS:
                assert term in text, term
            assert DESCRIPTION_JA in text.replace(" ", "")  # wrapped, whole
        assert len(render_pages(pdf, f"report-{db}-{lang}")) == len(reader.pages)


def scaled_projects(content: Mapping[str, Any], n: int) -> dict[str, Any]:
    """The content with ``n`` projects, each the pipeline's project with its figures scaled by a
    factor of its own (so every row's figures differ) and every other one a long description."""
    out: dict[str, Any] = json.loads(json.dumps(content))
    sources = list(
        zip(content["allocation"]["projects"], content["impact"]["projects"], strict=True)
    )
    out["allocation"]["projects"], out["impact"]["projects"] = [], []
    for i in range(n):
        allocation, impact = (dict(x) for x in sources[i % len(sources)])
        asset_id, code = 500 + i, f"P-{500 + i}"
        allocation.update(asset_id=asset_id, allocation_id=900 + i, asset_code=code)
        if i % 2:
            allocation["description"] = DESCRIPTION_JA * 2
        for column in IMPACT_COLUMNS:
            if column.recomputed and column.key != "data_coverage":
                # the pipeline's buildings state no uncertainty: give every other row one
                if impact[column.key] is None:
                    impact[column.key] = None if i % 2 else 123_457 * len(column.key)
                impact[column.key] = (
                    None if impact[column.key] is None else impact[column.key] * (i + 2)
                )
        impact.update(asset_id=asset_id, asset_code=code)
        out["allocation"]["projects"].append(allocation)
        out["impact"]["projects"].append(impact)
    return out


@needs_poppler
def test_pdf_rows_of_many_projects_stay_whole(
    client: TestClient, fleet: Fleet, chain: Chain
) -> None:
    content = scaled_projects(report(client, fleet, chain)["content"], 23)
    digest = content_sha256(content)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    db = database_of(client)
    for lang in ("en", "ja"):
        pdf = ARTIFACTS / f"report-many-{db}-{lang}.pdf"
        pdf.write_bytes(render(content, digest, "pdf", lang).data)
        lines = pdftotext(pdf).splitlines()
        for project in content["impact"]["projects"]:
            # The four impact tables (metered, expected, uncertainty, credits): one line each,
            # starting with the project code.
            mine = [line for line in lines if line.strip().startswith(project["asset_code"] + " ")]
            assert len(mine) == 4, (lang, project["asset_code"], mine)
            shown = " ".join(mine)
            for column in IMPACT_COLUMNS:
                if column.recomputed:
                    assert column.shown(project[column.key]) in shown, (lang, column.id)
        labels_ = labels(lang)
        totals = [line for line in lines if labels_("portfolio") in line]
        assert len(totals) == 4
        for column in IMPACT_COLUMNS:
            if column.recomputed:
                value = column.shown(content["impact"]["portfolio"][column.key])
                assert value in " ".join(totals), (lang, column.id)


# --- pure parts --------------------------------------------------------------------------------


def monthly(co2_g: list[int], metered_wh: list[int]) -> list[dict[str, Any]]:
    """Portfolio monthly rows of a fiscal year, as app/pure/report.py builds them."""
    period = ReportPeriod.fiscal_year(2025)
    figures = AssetFigures(asset_id=1, days_expected=365)
    for month, co2, metered in zip(months_of(period), co2_g, metered_wh, strict=True):
        figures.months[month] = MonthFigures(
            metered_wh=metered,
            benchmark_wh=metered + co2,
            co2_avoided_g=co2,
            attributed_co2_avoided_g=co2 // 3,
        )
    return monthly_rows(period, [figures])


def points(svg: str, series: str) -> list[tuple[str, Decimal, float]]:
    root = ET.fromstring(svg)
    return [
        (c.attrib["data-month"], Decimal(c.attrib["data-value"]), float(c.attrib["cy"]))
        for c in root.iter("{http://www.w3.org/2000/svg}circle")
        if c.attrib["class"].split() == ["point", series]
    ]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(0, 10**12), min_size=12, max_size=12),
    st.lists(st.integers(0, 10**12), min_size=12, max_size=12),
    st.sampled_from(["en", "ja"]),
)
def test_charts_one_point_per_month_cumulative_never_falls(
    co2_g: list[int], metered_wh: list[int], lang: str
) -> None:
    rows = monthly(co2_g, metered_wh)
    months = [r["month"] for r in rows]
    co2 = points(co2_chart(rows, labels(lang)), "cumulative")
    assert [m for m, _, _ in co2] == months
    running, expected = 0, []
    for g in co2_g:
        running += g
        expected.append(Decimal(running) / 10**6)
    assert [v for _, v, _ in co2] == expected
    assert all(a[1] <= b[1] and a[2] >= b[2] for a, b in pairwise(co2))  # up = smaller y
    metered = points(energy_chart(rows, labels(lang)), "metered")
    assert [(m, v) for m, v, _ in metered] == [
        (m, Decimal(w) / 10**6) for m, w in zip(months, metered_wh, strict=True)
    ]
    assert len(points(energy_chart(rows, labels(lang)), "benchmark")) == len(months)


def test_chart_axes_are_labelled_with_units_in_the_report_language() -> None:
    rows = monthly([5_000_000] * 12, [9_000_000] * 12)
    for lang in ("en", "ja"):
        words = labels(lang)
        for svg, axis in ((energy_chart(rows, words), "MWh"), (co2_chart(rows, words), "t-CO2")):
            texts = [
                t.text or "" for t in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}text")
            ]
            assert any(f"({axis})" in t for t in texts)
            assert words("chart.month_axis") in texts
    assert labels("ja")("chart.month_axis") != labels("en")("chart.month_axis")


@given(
    st.text(
        alphabet=st.sampled_from(list("abc defg,.-/") + list("省エネ事業概要（）、。")),
        max_size=120,
    ),
    st.integers(2, 40),
)
def test_wrap_keeps_every_character_within_the_width(text: str, width: int) -> None:
    lines = wrap(text, width)
    assert all(text_width(line) <= width for line in lines)
    assert "".join(lines).replace(" ", "") == "".join(text.split())


@pytest.mark.skipif(not FONT_PATH.exists(), reason="fonts-ipafont-gothic not installed")
def test_ipagothic_ascii_is_half_width_as_the_grid_assumes() -> None:
    from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

    font = TTFont(FONT_PATH, lazy=True)
    cmap, metrics = font.getBestCmap(), font["hmtx"].metrics
    half = font["head"].unitsPerEm // 2
    assert {metrics[cmap[c]][0] for c in range(0x20, 0x7F)} == {half}


def test_labels_cover_both_languages_and_headers_have_no_commas() -> None:
    assert EN.keys() == JA.keys()
    for texts in (EN, JA):
        assert not [k for k, v in texts.items() if k.startswith("col.") and "," in v]

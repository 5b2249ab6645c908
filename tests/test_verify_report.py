"""``gbt-verify report`` end to end: the real service computes, publishes and anchors a closed
period's report on a real Anvil; a later checkpoint includes its report leaf; the auditor
downloads the export up to it and checks the report in every format. Then tampered files, a
provisional report (never logged), an export that stops before the report's leaf, and unusable
input."""

import csv
import io
import json
import math
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import openpyxl  # type: ignore[import-untyped]
import pytest
from fastapi.testclient import TestClient

from app.audit.verify.cli import run
from app.impact.resolution import fit_of_record
from app.pure import report as rules
from app.pure.calc.uncertainty import (
    CONFIDENCE_68,
    CONFIDENCE_90,
    basis_of_daily_fit,
    savings_uncertainty_wh,
)
from app.reports.render import csv_format, pdf_format, render
from app.reports.render.labels import LANGS, labels
from tests.chain_helpers import Chain
from tests.conftest import AUDITOR, Fleet, allocate, app_state, create_bond
from tests.impact_helpers import BaselineSite, Site, real_now, run_pipeline
from tests.test_reports import DAY0, DAYS, get_report, setup

ALLOCATION = [c for c in rules.ALLOCATION_COLUMNS if c.recomputed]
IMPACT = [c for c in rules.IMPACT_COLUMNS if c.recomputed]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the verifier reads nothing but the files and the chain."""
    return f"sqlite:///{tmp_path}/test.sqlite3"


def export(client: TestClient, to: int, path: Path) -> Path:
    with client.stream("GET", f"/v1/audit/export?to={to}", headers=AUDITOR) as r:
        assert r.status_code == 200
        path.write_text("".join(r.iter_text()))
    return path


@pytest.fixture
def published(client: TestClient, fleet: Fleet, chain: Chain, tmp_path: Path) -> dict[str, Any]:
    """A closed period's report at checkpoint 0 (published: its leaf queued), then a second
    checkpoint that includes the leaf, and the export up to it."""
    ids = setup(client, fleet)
    run_pipeline(client, chain)
    period = {"start": DAY0.isoformat(), "end": (DAY0 + timedelta(days=DAYS - 1)).isoformat()}
    body = get_report(client, ids["bond"], **period)
    assert (body["status"], body["logged"]["state"]) == ("final", "queued")
    assert body["content"]["checkpoint"]["number"] == 0
    run_pipeline(client, chain)
    logged = get_report(client, ids["bond"], checkpoint=0, **period)
    assert logged["content_sha256"] == body["content_sha256"]
    path = export(client, 1, tmp_path / "export.ndjson")
    checkpoint = json.loads(path.read_text().splitlines()[-1])["checkpoint"]
    assert checkpoint["number"] == 1
    assert chain.node is not None
    return {
        **ids,
        "body": body,
        "leaf_index": logged["logged"]["leaf_index"],
        "period": period,
        "export": path,
        "export_size": len(path.read_text().splitlines()) - 1,
        "chain_args": ["--rpc", chain.node.url, "--contract", checkpoint["contract_address"]],
        "tmp": tmp_path,
    }


def verify(
    published: dict[str, Any], capsys: pytest.CaptureFixture[str], path: Path, **kw: Path
) -> tuple[int, list[str]]:
    """The CLI on ``path`` (``export``: another export); exit code and printed lines."""
    capsys.readouterr()
    code = run(
        [
            "report",
            str(path),
            "--export",
            str(kw.get("export", published["export"])),
            *published["chain_args"],
            "--chain-id",
            "31337",
        ]
    )
    captured = capsys.readouterr()
    return code, captured.out.splitlines() + captured.err.splitlines()


def write(published: dict[str, Any], name: str, data: bytes) -> Path:
    path: Path = published["tmp"] / name
    path.write_bytes(data)
    return path


def json_body(content: dict[str, Any], digest: str) -> bytes:
    return json.dumps({"content": content, "content_sha256": digest}).encode()


def formats(body: dict[str, Any]) -> Iterator[tuple[str, bytes]]:
    """The report in every format: the API's JSON body, then CSV, XLSX and PDF in each
    language, as the service renders them."""
    content, digest = body["content"], body["content_sha256"]
    yield "json", json.dumps(body).encode()
    for fmt in ("csv", "xlsx", "pdf"):
        for lang in LANGS:
            yield f"{lang}.{fmt}", render(content, digest, fmt, lang).data


# --- the tests ----------------------------------------------------------------------------------


def test_every_format_of_a_published_report_verifies(
    published: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    body = published["body"]
    content, digest = body["content"], body["content_sha256"]
    projects = len(content["impact"]["projects"])
    figures = projects * len(ALLOCATION) + (projects + 1) * len(IMPACT)
    checkpoint = content["checkpoint"]
    # the PDF prints the figures that are not null ("-" is no figure to find)
    rows = [*content["impact"]["projects"], content["impact"]["portfolio"]]
    printed = sum(row[c.key] is not None for row in rows for c in IMPACT)
    for name, data in formats(body):
        code, out = verify(published, capsys, write(published, f"report.{name}", data))
        assert code == 0, (name, out)
        kind = name.rsplit(".", 1)[-1].upper()
        assert out[0].startswith(f"ok   report file: {kind}, "), out
        assert digest in out[0]
        assert f"ok   root of {published['export_size']} leaves matches checkpoint 1" in out
        if kind == "PDF":
            assert out.pop() == (
                f"ok   PDF text: each of the {printed} recomputed impact "
                "figures is printed on its project's pages"
            )
        assert out[-3] == (
            f"ok   report leaf {published['leaf_index']} (in the export's anchored checkpoint) "
            f"has content_sha256 {digest}: bond {published['bond']}, "
            f"{published['period']['start']}..{published['period']['end']}, checkpoint 0 "
            f"of tree size {checkpoint['tree_size']}, as the file states"
        )
        stated = ", as the report states" if kind in ("JSON", "PDF") else ""
        assert out[-2] == (
            f"ok   on chain: checkpoint 0 has tree size {checkpoint['tree_size']} and root "
            f"{checkpoint['root_hex']}, the root of the export's first "
            f"{checkpoint['tree_size']} leaves{stated}"
        )
        assert out[-1] == (
            f"ok   figures: the {figures} recomputed figures of {projects} projects and the "
            f"portfolio equal the log's first {checkpoint['tree_size']} leaves"
        )


def _shown(column: rules.Column, raw: Any) -> str:
    return format(column.value(raw), "f")


def _xlsx_edit(data: bytes, sheet_name: str, header: str, key: Any, value: Any) -> bytes:
    """The workbook with one figure changed by openpyxl (document properties kept)."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book[sheet_name]
    column = [c.value for c in sheet[2]].index(header) + 1
    row = next(r for r in range(3, sheet.max_row + 1) if sheet.cell(r, 1).value == key)
    sheet.cell(row, column).value = value
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _csv_edit(data: bytes, table: str, header: str, key: Any, value: str) -> bytes:
    """The CSV with one cell of one data line changed, the rest byte for byte."""
    lines = data.decode("utf-8-sig").split("\r\n")
    at = lines.index(f"# table={table}")
    columns = next(csv.reader([lines[at + 2]]))
    i = next(n for n in range(at + 3, len(lines)) if lines[n].startswith(f"{key},"))
    cells = next(csv.reader([lines[i]]))
    cells[columns.index(header)] = value
    line = io.StringIO()
    csv.writer(line, lineterminator="").writerow(cells)
    lines[i] = line.getvalue()
    return "\ufeff".join(["", "\r\n".join(lines)]).encode()


def test_a_changed_figure_fails_naming_it(
    published: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    body = published["body"]
    content, digest = body["content"], body["content_sha256"]
    [building] = [
        p for p in content["impact"]["projects"] if p["asset_id"] == published["building"]
    ]
    [plant] = [p for p in content["impact"]["projects"] if p["asset_id"] == published["plant"]]
    savings = next(c for c in IMPACT if c.id == "energy_savings_mwh")
    co2 = next(c for c in IMPACT if c.id == "attributed_co2_avoided_t")
    assert building["energy_savings_wh"] != 0 and plant["attributed_co2_avoided_g"] != 0
    building_name = f"{building['asset_code']} (asset {building['asset_id']})"
    one_wh_more = _shown(savings, building["energy_savings_wh"] + 1)
    savings_failure = (
        f"impact {building_name} energy_savings_mwh: the report says {one_wh_more}, the log "
        f"gives {_shown(savings, building['energy_savings_wh'])}"
    )

    def fails(name: str, data: bytes) -> list[str]:
        code, out = verify(published, capsys, write(published, name, data))
        assert code == 1, (name, out)
        return out

    # XLSX: one cell edited with openpyxl (1 Wh more), in each language.
    for lang in LANGS:
        xlsx = render(content, digest, "xlsx", lang).data
        edited = _xlsx_edit(
            xlsx, "impact", "energy_savings_mwh [MWh]", building["asset_id"], float(one_wh_more)
        )
        assert fails(f"tampered.{lang}.xlsx", edited)[-1] == f"FAIL {savings_failure}"

    # CSV: the plant's attributed CO2 on its impact line, 1 kg less.
    changed = _shown(co2, plant["attributed_co2_avoided_g"] - 1000)
    for lang in LANGS:
        csv_data = render(content, digest, "csv", lang).data
        edited = _csv_edit(
            csv_data, "impact", "attributed_co2_avoided_t [t-CO2]", plant["asset_id"], changed
        )
        assert fails(f"tampered.{lang}.csv", edited)[-1] == (
            f"FAIL impact {plant['asset_code']} (asset {plant['asset_id']}) "
            f"attributed_co2_avoided_t: the report says {changed}, the log gives "
            f"{_shown(co2, plant['attributed_co2_avoided_g'])}"
        )

    # JSON and PDF, the content changed: under the original hash the file's own hash fails;
    # under the changed content's hash no report leaf has it, and the figure is named.
    edited_content = json.loads(json.dumps(content))
    [p] = [p for p in edited_content["impact"]["projects"] if p["asset_id"] == building["asset_id"]]
    p["energy_savings_wh"] += 1
    own = rules.content_sha256(edited_content)
    assert fails("same-hash.json", json_body(edited_content, digest)) == [
        f"FAIL report file: its content hashes to {own}, the file states {digest}"
    ]
    forged = pdf_format.render_pdf(edited_content, digest, labels("en"))
    assert fails("same-hash.pdf", forged) == [
        f"FAIL report file: the report.json attachment's content hashes to {own}, the PDF's "
        f"metadata states {digest}"
    ]
    no_leaf = (
        f"FAIL report leaf: no report leaf among the export's {published['export_size']} leaves "
        f"has content_sha256 {own}; and its figures differ from the log: {savings_failure}"
    )
    assert fails("own-hash.json", json_body(edited_content, own))[-1] == no_leaf
    for lang in LANGS:
        pdf = render(edited_content, own, "pdf", lang).data
        assert fails(f"own-hash.{lang}.pdf", pdf)[-1] == no_leaf

    # An allocation figure; a file citing another tree size than its leaf.
    [allocation] = [
        a for a in content["allocation"]["projects"] if a["asset_id"] == plant["asset_id"]
    ]
    raised = int(Decimal(allocation["amount_allocated"])) + 1
    edited = _xlsx_edit(
        render(content, digest, "xlsx", "en").data,
        "allocation",
        "amount_allocated [JPY]",
        plant["asset_id"],
        raised,
    )
    assert fails("amount.xlsx", edited)[-1] == (
        f"FAIL allocation {allocation['asset_code']} (asset {plant['asset_id']}) "
        f"amount_allocated: the report says {raised}, the log gives "
        f"{allocation['amount_allocated']}"
    )
    # A workbook whose evidence sheet and document properties disagree.
    book = openpyxl.load_workbook(io.BytesIO(render(content, digest, "xlsx", "ja").data))
    [row] = [r for r in book["evidence"].iter_rows() if r[0].value == "checkpoint_number"]
    row[1].value = content["checkpoint"]["number"] + 1
    disagreeing = io.BytesIO()
    book.save(disagreeing)
    assert fails("evidence.xlsx", disagreeing.getvalue()) == [
        f"FAIL report file: the evidence sheet states checkpoint_number "
        f"{content['checkpoint']['number'] + 1}, the document properties "
        f"{content['checkpoint']['number']}"
    ]
    size = content["checkpoint"]["tree_size"]
    shifted = json.loads(json.dumps(content))
    shifted["checkpoint"]["tree_size"] = size + 1
    assert fails("shifted.csv", csv_format.render_csv(shifted, digest, labels("en")))[-1] == (
        f"FAIL report leaf {published['leaf_index']}: checkpoint_tree_size: the leaf says "
        f"{size}, the file says {size + 1}"
    )


def test_a_report_without_a_leaf_in_the_export_fails(
    published: dict[str, Any], client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    """A provisional report is never logged; a published one is not in an export that stops at
    the checkpoint it cites (its leaf came after)."""
    provisional = get_report(client, published["bond"], start=DAY0.isoformat(), end="2026-02-28")
    assert provisional["status"] == "provisional"
    note = " (the report says it is provisional: only a closed period's is logged)"
    for name, data in formats(provisional):
        code, out = verify(published, capsys, write(published, f"provisional.{name}", data))
        assert code == 1, (name, out)
        carries_status = name.endswith(("json", "pdf"))  # the formats that hold the content
        assert out[-1] == (
            f"FAIL report leaf: no report leaf among the export's {published['export_size']} "
            f"leaves has content_sha256 {provisional['content_sha256']}"
            f"{note if carries_status else ''}"
        ), out

    early = export(client, 0, published["tmp"] / "export-0.ndjson")
    report = write(published, "report.json", json.dumps(published["body"]).encode())
    code, out = verify(published, capsys, report, export=early)
    assert code == 1
    assert out[-1].startswith("FAIL report leaf: no report leaf among the export's "), out


def test_unusable_input_exits_2(
    published: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    missing = published["tmp"] / "missing.pdf"
    cases = {
        "missing": (missing, "cannot read"),
        "unknown format": (write(published, "notes.txt", b"hello\n"), "not a report"),
        "damaged XLSX": (write(published, "bad.xlsx", b"PK\x03\x04junk"), "XLSX"),
        "damaged PDF": (write(published, "bad.pdf", b"%PDF-1.7\njunk"), "PDF"),
        "bad JSON": (write(published, "bad.json", b'{"content": '), "JSON"),
    }
    for case, (path, message) in cases.items():
        code, out = verify(published, capsys, path)
        assert code == 2, (case, out)
        assert out and out[-1].startswith("error: ") and message in out[-1], (case, out)


def test_a_baseline_building_report_states_its_uncertainty_and_verifies(
    client: TestClient,
    fleet: Fleet,
    chain: Chain,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """A baseline building's report states the period's Guideline 14 uncertainty: its stating
    days evaluated together with the stored fit of the latest, x the financing share, equal to
    a recomputation here from the admin day results; every format verifies, and a changed
    uncertainty cell fails naming it."""
    site = Site(client, fleet)
    site.factor("TEST-baseline", "0.5")
    building = BaselineSite(site, "TEST-baseline", skip_baseline_days=set())
    site.run_job(real_now())
    bond = create_bond(client, "GB-UNC", amount_issued="1000", issue_date="2020-01-01")
    share = "0.35"
    allocate(client, bond, building.asset, share)
    run_pipeline(client, chain)
    days = [d for d in site.results(building.asset) if d["final"]]
    stating = sorted(
        (d for d in days if d["savings_uncertainty_68_wh"] is not None),
        key=lambda d: d["period_start"],
    )
    assert len(stating) >= 2
    period = {"start": building.reporting[0].isoformat(), "end": days[-1]["period_start"]}
    assert max(d["period_start"] for d in days) == period["end"]
    body = get_report(client, bond, **period)
    assert (body["status"], body["logged"]["state"]) == ("final", "queued")

    # Independently: the stating days of the period, the stored fit of the latest of them.
    session = app_state(client).session_factory()
    try:
        fit = fit_of_record(session, stating[-1]["baseline_fit_id"])
        assert fit is not None
        basis = basis_of_daily_fit(fit)
    finally:
        session.close()
    benchmark = sum(d["benchmark_wh"] for d in stating)
    expected = [
        savings_uncertainty_wh(basis, level, len(stating), benchmark)
        for level in (CONFIDENCE_68, CONFIDENCE_90)
    ]
    attributed = [math.ceil(Fraction(u) * Fraction(share)) for u in expected]
    [project] = body["content"]["impact"]["projects"]
    portfolio = body["content"]["impact"]["portfolio"]
    for row in (project, portfolio):  # one project: the quadrature of one is itself
        assert [row["savings_uncertainty_68_wh"], row["savings_uncertainty_90_wh"]] == expected
        assert [
            row["attributed_savings_uncertainty_68_wh"],
            row["attributed_savings_uncertainty_90_wh"],
        ] == attributed
    # evaluated together, not the days' own figures added up
    assert expected[1] < sum(d["savings_uncertainty_90_wh"] for d in stating)

    run_pipeline(client, chain)
    logged = get_report(client, bond, checkpoint=0, **period)
    assert logged["content_sha256"] == body["content_sha256"]
    path = export(client, 1, tmp_path / "export.ndjson")
    checkpoint = json.loads(path.read_text().splitlines()[-1])["checkpoint"]
    assert chain.node is not None
    published = {
        "export": path,
        "chain_args": ["--rpc", chain.node.url, "--contract", checkpoint["contract_address"]],
        "tmp": tmp_path,
    }
    for name, data in formats(body):
        code, out = verify(published, capsys, write(published, f"report.{name}", data))
        assert code == 0, (name, out)
        assert "with a refitted CalTRACK baseline" in "\n".join(out)

    content, digest = body["content"], body["content_sha256"]
    column = next(c for c in IMPACT if c.id == "attributed_savings_uncertainty_90_mwh")
    name = f"{project['asset_code']} (asset {project['asset_id']})"
    changed = _shown(column, attributed[1] - 1)
    failure = (
        f"FAIL impact {name} attributed_savings_uncertainty_90_mwh: the report says {changed}, "
        f"the log gives {_shown(column, attributed[1])}"
    )
    for lang in LANGS:
        csv_data = render(content, digest, "csv", lang).data
        edited = _csv_edit(
            csv_data,
            "impact",
            "attributed_savings_uncertainty_90_mwh [MWh]",
            project["asset_id"],
            changed,
        )
        code, out = verify(published, capsys, write(published, f"tampered.{lang}.csv", edited))
        assert (code, out[-1]) == (1, failure)
        xlsx = render(content, digest, "xlsx", lang).data
        edited = _xlsx_edit(
            xlsx,
            "impact",
            "attributed_savings_uncertainty_90_mwh [MWh]",
            project["asset_id"],
            None,
        )
        code, out = verify(published, capsys, write(published, f"emptied.{lang}.xlsx", edited))
        assert (code, out[-1]) == (1, failure.replace(f"says {changed}", "says (empty)"))

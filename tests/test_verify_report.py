"""``gbt-verify report`` end to end: the real service computes, publishes and anchors a closed
period's report on a real Anvil; a later checkpoint includes its report leaf; the auditor
downloads the export up to it and checks the report in every format. Then tampered files, a
provisional report (never logged), an export that stops before the report's leaf, and unusable
input."""

import csv
import io
import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl  # type: ignore[import-untyped]
import pytest
from fastapi.testclient import TestClient
from openpyxl.packaging.custom import IntProperty, StringProperty  # type: ignore[import-untyped]

from app.audit.verify.cli import run
from app.pure import report as rules
from tests.chain_helpers import Chain
from tests.conftest import AUDITOR, Fleet
from tests.impact_helpers import run_pipeline
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


# --- contract fixtures: CSV and XLSX written as /work/wt/REPORT_FORMATS.md says ---------------
# Stand-ins for the renderers until they land (app/reports/render), the verifier's side of the
# format contract: identification fields and the two figure tables, nothing else.


def _machine_header(columns: list[rules.Column], currency: str) -> list[str]:
    def label(c: rules.Column) -> str:
        return f"{c.id} [{currency if c.unit == 'currency' else c.unit}]"

    return ["asset_id", "asset_code", *map(label, columns)]


def _table(content: dict[str, Any]) -> dict[str, list[list[Any]]]:
    """Each figure table's rows: key, asset code, then each column's printed value."""
    allocation = [
        [p["asset_id"], p["asset_code"], *(c.value(p[c.key]) for c in rules.ALLOCATION_COLUMNS)]
        for p in content["allocation"]["projects"]
    ]
    impact = [
        [p["asset_id"], p["asset_code"], *(c.value(p[c.key]) for c in rules.IMPACT_COLUMNS)]
        for p in content["impact"]["projects"]
    ]
    portfolio = content["impact"]["portfolio"]
    impact.append(
        [rules.PORTFOLIO_KEY, "", *(c.value(portfolio.get(c.key)) for c in rules.IMPACT_COLUMNS)]
    )
    return {"allocation": allocation, "impact": impact}


def _identity(content: dict[str, Any], digest: str) -> dict[str, Any]:
    return {
        "content_sha256": digest,
        "bond_id": content["bond"]["id"],
        "period_start": content["period"]["start"],
        "period_end": content["period"]["end"],
        "checkpoint_number": content["checkpoint"]["number"],
        "checkpoint_tree_size": content["checkpoint"]["tree_size"],
    }


def contract_csv(content: dict[str, Any], digest: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    ident = _identity(content, digest)
    out.write(f"# gbt-green-bond-report content_sha256={digest}\r\n")
    out.write(" ".join(f"{k}={v}" for k, v in list(ident.items())[1:]).join(["# ", " lang=en\r\n"]))
    currency = content["bond"]["currency"]
    columns = {"allocation": list(rules.ALLOCATION_COLUMNS), "impact": list(rules.IMPACT_COLUMNS)}
    for name, rows in _table(content).items():
        out.write(f"# table={name}\r\n# Labels, in the report's language\r\n")
        writer.writerow(_machine_header(columns[name], currency))
        for row in rows:
            writer.writerow([format(v, "f") if isinstance(v, Decimal) else v for v in row])
        out.write("\r\n")
    return b"\xef\xbb\xbf" + out.getvalue().encode()


def contract_xlsx(content: dict[str, Any], digest: str) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    ident = _identity(content, digest)
    for key, value in ident.items():
        prop = IntProperty if isinstance(value, int) else StringProperty
        book.custom_doc_props.append(prop(name=key, value=value))
    book.properties.keywords = f"content_sha256={digest}"
    currency = content["bond"]["currency"]
    columns = {"allocation": list(rules.ALLOCATION_COLUMNS), "impact": list(rules.IMPACT_COLUMNS)}
    for name, rows in _table(content).items():
        sheet = book.create_sheet(name)
        sheet.append(["Labels with units"] * (len(columns[name]) + 2))
        sheet.append(_machine_header(columns[name], currency))
        for row in rows:
            sheet.append([float(v) if isinstance(v, Decimal) else v for v in row])
    evidence = book.create_sheet("evidence")
    for key, value in ident.items():
        evidence.append([key, value])
    data = io.BytesIO()
    book.save(data)
    return data.getvalue()


RENDER = {"csv": contract_csv, "xlsx": contract_xlsx}


def formats(body: dict[str, Any]) -> Iterator[tuple[str, bytes]]:
    content, digest = body["content"], body["content_sha256"]
    yield "json", json.dumps(body).encode()
    for fmt, render in RENDER.items():
        yield fmt, render(content, digest)


# --- the tests ----------------------------------------------------------------------------------


def test_every_format_of_a_published_report_verifies(
    published: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    body = published["body"]
    content, digest = body["content"], body["content_sha256"]
    projects = len(content["impact"]["projects"])
    figures = projects * len(ALLOCATION) + (projects + 1) * len(IMPACT)
    checkpoint = content["checkpoint"]
    for fmt, data in formats(body):
        code, out = verify(published, capsys, write(published, f"report.{fmt}", data))
        assert code == 0, (fmt, out)
        assert out[0].startswith(f"ok   report file: {fmt.upper()}, "), out
        assert digest in out[0]
        assert f"ok   root of {published['export_size']} leaves matches checkpoint 1" in out
        assert out[-3] == (
            f"ok   report leaf {published['leaf_index']} (in the export's anchored checkpoint) "
            f"has content_sha256 {digest}: bond {published['bond']}, "
            f"{published['period']['start']}..{published['period']['end']}, checkpoint 0 "
            f"of tree size {checkpoint['tree_size']}, as the file states"
        )
        stated = ", as the report states" if fmt == "json" else ""
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

    # XLSX: one cell edited with openpyxl, the document properties kept.
    book = openpyxl.load_workbook(io.BytesIO(contract_xlsx(content, digest)))
    sheet = book["impact"]
    column = [c.value for c in sheet[2]].index("energy_savings_mwh [MWh]") + 1
    row = next(
        r for r in range(3, sheet.max_row + 1) if sheet.cell(r, 1).value == building["asset_id"]
    )
    sheet.cell(row, column).value = float(_shown(savings, building["energy_savings_wh"] + 1))
    data = io.BytesIO()
    book.save(data)
    code, out = verify(published, capsys, write(published, "tampered.xlsx", data.getvalue()))
    assert code == 1, out
    name = f"{building['asset_code']} (asset {building['asset_id']})"
    assert out[-1] == (
        f"FAIL impact {name} energy_savings_mwh: the report says "
        f"{_shown(savings, building['energy_savings_wh'] + 1)}, the log gives "
        f"{_shown(savings, building['energy_savings_wh'])}"
    )

    # CSV: the plant's attributed CO2 on its impact line changed.
    text = contract_csv(content, digest).decode("utf-8-sig")
    lines = text.split("\r\n")
    impact_at = lines.index("# table=impact")
    header = lines[impact_at + 2].split(",")
    i = next(
        n for n in range(impact_at + 3, len(lines)) if lines[n].startswith(f"{plant['asset_id']},")
    )
    cells = lines[i].split(",")
    changed = plant["attributed_co2_avoided_g"] - 1000
    cells[header.index("attributed_co2_avoided_t [t-CO2]")] = _shown(co2, changed)
    lines[i] = ",".join(cells)
    tampered = "\ufeff" + "\r\n".join(lines)
    code, out = verify(published, capsys, write(published, "tampered.csv", tampered.encode()))
    assert code == 1, out
    assert out[-1] == (
        f"FAIL impact {plant['asset_code']} (asset {plant['asset_id']}) attributed_co2_avoided_t: "
        f"the report says {_shown(co2, changed)}, the log gives "
        f"{_shown(co2, plant['attributed_co2_avoided_g'])}"
    )

    # JSON: a changed figure under the original hash fails on the hash; under its own hash, no
    # report leaf has it, and the figure is named.
    edited = json.loads(json.dumps(content))
    [p] = [p for p in edited["impact"]["projects"] if p["asset_id"] == published["building"]]
    p["energy_savings_wh"] += 1
    own = rules.content_sha256(edited)
    code, out = verify(
        published, capsys, write(published, "same-hash.json", json_body(edited, digest))
    )
    assert code == 1, out
    assert out == [f"FAIL report file: its content hashes to {own}, the file states {digest}"]
    code, out = verify(published, capsys, write(published, "own-hash.json", json_body(edited, own)))
    assert code == 1, out
    assert out[-1].startswith(
        f"FAIL report leaf: no report leaf among the export's {published['export_size']} leaves "
        f"has content_sha256 {own}; and its figures differ from the log: impact {name} "
        f"energy_savings_mwh: the report says {_shown(savings, building['energy_savings_wh'] + 1)}"
    ), out

    # An allocation figure, and a file citing another checkpoint than its leaf.
    book = openpyxl.load_workbook(io.BytesIO(contract_xlsx(content, digest)))
    sheet = book["allocation"]
    column = [c.value for c in sheet[2]].index("amount_allocated [JPY]") + 1
    raised = sheet.cell(3, column).value + 1
    sheet.cell(3, column).value = raised
    asset = sheet.cell(3, 1).value
    [allocation] = [a for a in content["allocation"]["projects"] if a["asset_id"] == asset]
    data = io.BytesIO()
    book.save(data)
    code, out = verify(published, capsys, write(published, "amount.xlsx", data.getvalue()))
    assert out[-1] == (
        f"FAIL allocation {allocation['asset_code']} (asset {asset}) amount_allocated: the "
        f"report says {Decimal(str(raised))}, the log gives "
        f"{allocation['amount_allocated']}"
    )
    shifted = json.loads(json.dumps(content))
    size = content["checkpoint"]["tree_size"]
    shifted["checkpoint"]["tree_size"] = size + 1
    code, out = verify(
        published, capsys, write(published, "shifted.csv", contract_csv(shifted, digest))
    )
    assert code == 1 and out[-1] == (
        f"FAIL report leaf {published['leaf_index']}: checkpoint_tree_size: the leaf says "
        f"{size}, the file says {size + 1}"
    ), out


def test_a_report_without_a_leaf_in_the_export_fails(
    published: dict[str, Any], client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    """A provisional report is never logged; a published one is not in an export that stops at
    the checkpoint it cites (its leaf came after)."""
    provisional = get_report(client, published["bond"], start=DAY0.isoformat(), end="2026-02-28")
    assert provisional["status"] == "provisional"
    size = published["export_size"]
    for fmt, data in formats(provisional):
        code, out = verify(published, capsys, write(published, f"provisional.{fmt}", data))
        assert code == 1, (fmt, out)
        note = " (the report says it is provisional: only a closed period's is logged)"
        assert out[-1] == (
            f"FAIL report leaf: no report leaf among the export's {size} leaves has "
            f"content_sha256 {provisional['content_sha256']}{note if fmt == 'json' else ''}"
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

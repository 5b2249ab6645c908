"""``gbt-verify report``: check a downloaded green bond report (JSON, PDF, XLSX or CSV) against
an export of the log and the chain. The formats are the renderers' (app/reports/render/), the
figures those of app/pure/report.py; docs/reporting.md, "Verifying a report", says what each
check proves.

1. The file's own integrity: a JSON report's content hashes to the hash it states; a PDF's
   ``report.json`` attachment hashes to the hash its metadata keywords and every page's footer
   state; an XLSX's document properties, keywords and evidence sheet agree; a CSV's header
   lines are read.
2. The export is the anchored log (``verify_recompute``: root against the chain, every result
   recomputed, methodology hash, bond totals).
3. The report's hash is a ``report`` leaf of the export, naming the bond, period and checkpoint
   the file names, logged after that checkpoint's leaves.
4. The cited checkpoint is on chain with the file's tree size, and its root is the root of the
   export's first tree-size leaves (and the root a JSON or PDF report states).
5. Every recomputed figure of the file equals the figure recomputed from those leaves (exactly,
   in content units); a PDF prints each recomputed impact figure in its project's page text.

Pure modules, web3 (through the sibling checks), openpyxl and pypdf only.
"""

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import openpyxl  # type: ignore[import-untyped]
from pypdf import PdfReader

from app.audit.verify.checks import Chain, CheckFailedError, Report, UnusableInputError, field_of
from app.audit.verify.export import read_export
from app.audit.verify.recompute import Recomputer, verify_recompute
from app.pure import encoding, merkle
from app.pure import report as rules
from app.pure.audit_formats import ExportCheckpoint
from app.pure.calc.results import uncertainty_basis
from app.pure.calc.uncertainty import UncertaintyBasis
from app.pure.compact_range import CompactRange
from app.pure.credit_leaves import CreditIssuanceLeaf
from app.pure.leaves import AllocationLeaf, ReportLeaf, ResultLeaf, parse_leaf

ALLOCATION = tuple(c for c in rules.ALLOCATION_COLUMNS if c.recomputed)
IMPACT = tuple(c for c in rules.IMPACT_COLUMNS if c.recomputed)
HEX64 = re.compile(r"[0-9a-f]{64}")
CSV_MAGIC = "# gbt-green-bond-report"
FIGURE_TABLES = {"allocation": ALLOCATION, "impact": IMPACT}
IDENTITY_FIELDS = (
    "content_sha256",
    "bond_id",
    "period_start",
    "period_end",
    "checkpoint_number",
    "checkpoint_tree_size",
)

Key = int | str  # an asset id, or rules.PORTFOLIO_KEY


# --- what a report file says --------------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    """The identification fields every format carries."""

    content_sha256: str
    bond_id: int
    period_start: date
    period_end: date
    checkpoint_number: int
    checkpoint_tree_size: int

    def describe(self) -> str:
        return (
            f"bond {self.bond_id}, {self.period_start}..{self.period_end}, checkpoint "
            f"{self.checkpoint_number} of tree size {self.checkpoint_tree_size}"
        )


@dataclass(frozen=True)
class Row:
    """A figure table's row: its name in messages, and each recomputed column's value as the
    file prints it (MWh, t-CO2, ...; None: empty)."""

    name: str
    values: dict[str, Decimal | None]


@dataclass(frozen=True)
class ReportFile:
    kind: str  # JSON | PDF | XLSX | CSV
    identity: Identity
    allocation: dict[Key, Row]  # by asset id
    impact: dict[Key, Row]
    # the unit of the currency columns, as the file labels them (CSV/XLSX header, JSON bond)
    currency: str
    # JSON and PDF: the content's checkpoint (root_hex, chain_id, contract_address)
    checkpoint: dict[str, Any] | None = None
    status: str | None = None
    page_texts: tuple[str, ...] = ()  # PDF
    asset_codes: dict[int, str] = field(default_factory=dict)


def _row_name(asset_id: int, code: str | None) -> str:
    return f"{code} (asset {asset_id})" if code else f"asset {asset_id}"


def _decimal(value: Any, where: str) -> Decimal | None:
    """A printed value of the file: None or "" is empty, else a finite decimal."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise UnusableInputError(f"{where}: {value!r} is not a number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as e:
        raise UnusableInputError(f"{where}: {value!r} is not a number") from e
    if not number.is_finite():
        raise UnusableInputError(f"{where}: {value!r} is not a number")
    return number


def _day(value: Any, where: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError as e:
        raise UnusableInputError(f"{where}: {value!r} is not an ISO date") from e


def _integer(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise UnusableInputError(f"{where}: must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"[0-9]+", value.strip()):
        return int(value)
    raise UnusableInputError(f"{where}: {value!r} is not an integer")


def _hash(value: Any, where: str) -> str:
    if not isinstance(value, str) or not HEX64.fullmatch(value):
        raise UnusableInputError(f"{where}: {value!r} is not a 64-hex SHA-256")
    return value


def _identity(fields: Mapping[str, Any], where: str) -> Identity:
    missing = [name for name in IDENTITY_FIELDS if name not in fields]
    if missing:
        raise UnusableInputError(f"{where}: missing {', '.join(missing)}")
    return Identity(
        content_sha256=_hash(fields["content_sha256"], f"{where} content_sha256"),
        bond_id=_integer(fields["bond_id"], f"{where} bond_id"),
        period_start=_day(fields["period_start"], f"{where} period_start"),
        period_end=_day(fields["period_end"], f"{where} period_end"),
        checkpoint_number=_integer(fields["checkpoint_number"], f"{where} checkpoint_number"),
        checkpoint_tree_size=_integer(
            fields["checkpoint_tree_size"], f"{where} checkpoint_tree_size"
        ),
    )


# --- JSON (and the PDF's attachment) ------------------------------------------------------------


def _content_rows(
    rows: Any, columns: tuple[rules.Column, ...], where: str
) -> tuple[dict[Key, Row], dict[int, str]]:
    if not isinstance(rows, list):
        raise UnusableInputError(f"{where}: must be a list")
    table: dict[Key, Row] = {}
    codes: dict[int, str] = {}
    for i, row in enumerate(rows):
        at = f"{where}[{i}]"
        asset_id = field_of(row, "asset_id", int, at)
        code = row.get("asset_code")
        if asset_id in table:
            raise UnusableInputError(f"{at}: asset {asset_id} is listed twice")
        table[asset_id] = Row(_row_name(asset_id, code), _content_values(row, columns, at))
        if isinstance(code, str):
            codes[asset_id] = code
    return table, codes


def _content_values(
    row: Mapping[str, Any], columns: tuple[rules.Column, ...], where: str
) -> dict[str, Decimal | None]:
    values: dict[str, Decimal | None] = {}
    for column in columns:
        if column.key not in row:
            raise UnusableInputError(f"{where}: missing {column.key!r}")
        raw = row[column.key]
        if isinstance(raw, bool) or not isinstance(raw, int | str | None):
            raise UnusableInputError(f"{where}.{column.key}: must be an integer or a string")
        number = _decimal(raw, f"{where}.{column.key}")
        values[column.id] = None if number is None else column.value(number)
    return values


def _from_content(kind: str, content: Any, stated: str, where: str, **extra: Any) -> ReportFile:
    if not isinstance(content, dict):
        raise UnusableInputError(f"{where}: 'content' must be an object")
    bond = field_of(content, "bond", dict, where)
    period = field_of(content, "period", dict, where)
    checkpoint = field_of(content, "checkpoint", dict, where)
    allocation = field_of(content, "allocation", dict, where)
    impact = field_of(content, "impact", dict, where)
    identity = _identity(
        {
            "content_sha256": stated,
            "bond_id": field_of(bond, "id", int, f"{where}.bond"),
            "period_start": field_of(period, "start", str, f"{where}.period"),
            "period_end": field_of(period, "end", str, f"{where}.period"),
            "checkpoint_number": field_of(checkpoint, "number", int, f"{where}.checkpoint"),
            "checkpoint_tree_size": field_of(checkpoint, "tree_size", int, f"{where}.checkpoint"),
        },
        where,
    )
    alloc_rows, codes = _content_rows(
        field_of(allocation, "projects", list, f"{where}.allocation"),
        ALLOCATION,
        f"{where}.allocation.projects",
    )
    impact_rows, impact_codes = _content_rows(
        field_of(impact, "projects", list, f"{where}.impact"), IMPACT, f"{where}.impact.projects"
    )
    portfolio = field_of(impact, "portfolio", dict, f"{where}.impact")
    rows = dict(impact_rows)
    rows[rules.PORTFOLIO_KEY] = Row(
        rules.PORTFOLIO_KEY, _content_values(portfolio, IMPACT, f"{where}.impact.portfolio")
    )
    status = content.get("status")
    return ReportFile(
        kind=kind,
        identity=identity,
        allocation=alloc_rows,
        impact=rows,
        currency=field_of(bond, "currency", str, f"{where}.bond"),
        checkpoint=checkpoint,
        status=status if isinstance(status, str) else None,
        asset_codes={**codes, **impact_codes},
        **extra,
    )


def _content_hash(content: Any, where: str) -> str:
    if not isinstance(content, dict):
        raise UnusableInputError(f"{where}: 'content' must be an object")
    try:
        return rules.content_sha256(content)
    except TypeError as e:  # a float: not a report's content (decimals are strings)
        raise UnusableInputError(f"{where}: {e}") from e


def _json(data: bytes, path: str, report: Report) -> ReportFile:
    try:
        body = json.loads(data.decode("utf-8-sig"))
    except ValueError as e:
        raise UnusableInputError(f"cannot read {path} as JSON: {e}") from e
    content = field_of(body, "content", dict, path)
    stated = _hash(field_of(body, "content_sha256", str, path), f"{path} content_sha256")
    computed = _content_hash(content, path)
    if computed != stated:
        raise CheckFailedError(
            "report file", f"its content hashes to {computed}, the file states {stated}"
        )
    parsed = _from_content("JSON", content, stated, path)
    report(
        f"report file: JSON, its content hashes to {stated} as it states "
        f"({parsed.identity.describe()})"
    )
    return parsed


# --- PDF ----------------------------------------------------------------------------------------


def _pdf(data: bytes, path: str, report: Report) -> ReportFile:
    try:
        reader = PdfReader(io.BytesIO(data))
        keywords = str(reader.metadata.get("/Keywords", "")) if reader.metadata else ""
        attachments = reader.attachments
        attached = list(attachments.get("report.json", []))
        texts = tuple(page.extract_text() or "" for page in reader.pages)
    except Exception as e:  # pypdf raises many kinds of errors on a damaged file
        raise UnusableInputError(f"cannot read {path} as a PDF: {e}") from e
    if len(attached) != 1:
        raise UnusableInputError(
            f"{path}: expected one report.json attachment, found {len(attached)}"
        )
    try:
        body = json.loads(attached[0])
    except ValueError as e:
        raise UnusableInputError(f"{path}: the report.json attachment is not JSON: {e}") from e
    content = field_of(body, "content", dict, f"{path} report.json")
    attached_hash = _hash(
        field_of(body, "content_sha256", str, f"{path} report.json"), "report.json content_sha256"
    )
    computed = _content_hash(content, f"{path} report.json")

    what = "report file"
    stated = re.search(r"content_sha256=([0-9a-f]{64})", keywords)
    if stated is None:
        raise CheckFailedError(what, "the PDF's metadata keywords state no content_sha256")
    metadata_hash = stated.group(1)
    if computed != metadata_hash:
        raise CheckFailedError(
            what,
            f"the report.json attachment's content hashes to {computed}, the PDF's metadata "
            f"states {metadata_hash}",
        )
    if attached_hash != metadata_hash:
        raise CheckFailedError(
            what,
            f"the report.json attachment states content_sha256 {attached_hash}, the PDF's "
            f"metadata {metadata_hash}",
        )
    for number, text in enumerate(texts, start=1):
        footers = set(re.findall(r"SHA-256\s*([0-9a-f]{64})", text))
        if footers != {metadata_hash}:
            shown = ", ".join(sorted(footers)) or "no SHA-256"
            raise CheckFailedError(
                what, f"the footer of page {number} shows {shown}, the metadata {metadata_hash}"
            )
    parsed = _from_content("PDF", content, metadata_hash, f"{path} report.json", page_texts=texts)
    report(
        f"report file: PDF, its report.json attachment hashes to {metadata_hash} as its metadata "
        f"and the footers of its {len(texts)} pages state ({parsed.identity.describe()})"
    )
    return parsed


# --- CSV and XLSX: figure tables ----------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    """A machine header: each column's id and unit (``energy_savings_mwh [MWh]``)."""

    ids: list[str]
    units: dict[str, str]

    @classmethod
    def parse(cls, cells: Iterable[Any]) -> "Header":
        ids, units = [], {}
        for cell in cells:
            match = re.fullmatch(r"\s*([^\s\[\]]*)\s*(?:\[([^\]]*)\])?\s*", str(cell or ""))
            name = match.group(1) if match else str(cell)
            ids.append(name)
            if match and match.group(2) is not None:
                units[name] = match.group(2)
        return cls(ids, units)


def _table_rows(
    kind: str,
    table: str,
    columns: tuple[rules.Column, ...],
    header: Header,
    rows: Iterable[list[Any]],
) -> tuple[dict[Key, Row], dict[int, str], set[str]]:
    """A figure table's rows by key, the asset codes it shows, and the units of its currency
    columns. CheckFailedError when a recomputed column's unit is not the column's."""
    where = f"{kind} {table} table"
    for name in ("asset_id", *(c.id for c in columns)):
        if name not in header.ids:
            raise UnusableInputError(f"{where}: no column {name!r}")
    currencies = set()
    for column in columns:
        unit = header.units.get(column.id)
        if column.unit == "currency":
            currencies.add(unit or "")
        elif unit != column.unit:
            raise CheckFailedError(
                f"{where} column {column.id}",
                f"its unit is [{unit}], the column's is [{column.unit}]",
            )
    position = {name: i for i, name in reversed(list(enumerate(header.ids)))}
    out: dict[Key, Row] = {}
    codes: dict[int, str] = {}
    for n, cells in enumerate(rows, start=1):
        cell = {name: cells[i] for name, i in position.items() if i < len(cells)}.get
        raw_key = cell("asset_id")
        at = f"{where} row {n}"
        key: Key
        if table == "impact" and str(raw_key).strip() == rules.PORTFOLIO_KEY:
            key, name = rules.PORTFOLIO_KEY, rules.PORTFOLIO_KEY
        else:
            key = _integer(raw_key, f"{at} asset_id")
            code = cell("asset_code")
            name = _row_name(key, str(code) if code else None)
            if code:
                codes[key] = str(code)
        if key in out:
            raise UnusableInputError(f"{at}: {out[key].name} is listed twice")
        out[key] = Row(name, {c.id: _decimal(cell(c.id), f"{at} {c.id}") for c in columns})
    return out, codes, currencies


def _tabular(
    kind: str,
    identity: Identity,
    tables: Mapping[str, tuple[Header, list[list[Any]]]],
) -> ReportFile:
    parsed: dict[str, dict[Key, Row]] = {}
    codes: dict[int, str] = {}
    currencies: set[str] = set()
    for table, columns in FIGURE_TABLES.items():
        if table not in tables:
            raise UnusableInputError(f"{kind} report: no {table} table")
        header, rows = tables[table]
        parsed[table], table_codes, table_currencies = _table_rows(
            kind, table, columns, header, rows
        )
        codes.update(table_codes)
        currencies |= table_currencies
    if len(currencies) != 1:
        raise CheckFailedError(
            f"{kind} report", f"its currency columns name units {sorted(currencies)}"
        )
    return ReportFile(
        kind=kind,
        identity=identity,
        allocation=parsed["allocation"],
        impact=parsed["impact"],
        currency=currencies.pop(),
        asset_codes=codes,
    )


def _csv(data: bytes, path: str, report: Report) -> ReportFile:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise UnusableInputError(f"cannot read {path} as UTF-8: {e}") from e
    lines = list(csv.reader(io.StringIO(text, newline="")))
    if len(lines) < 2 or not lines[0] or not lines[0][0].startswith(CSV_MAGIC):
        raise UnusableInputError(
            f"{path}: not a report (PDF, XLSX, JSON, or CSV starting with {CSV_MAGIC!r})"
        )
    fields = dict(re.findall(r"(\w+)=(\S+)", ",".join(lines[0]) + " " + ",".join(lines[1])))
    identity = _identity(fields, f"{path} header")
    tables: dict[str, tuple[Header, list[list[Any]]]] = {}
    i = 2
    while i < len(lines):
        line = lines[i]
        start = re.fullmatch(r"#\s*table=(\w+)\s*", line[0]) if line else None
        if start is None:
            i += 1
            continue
        # `# table=NAME`, a `# localized labels` line, the machine header, data rows
        if i + 2 >= len(lines):
            raise UnusableInputError(f"{path}: table {start.group(1)} lacks its header lines")
        header = Header.parse(lines[i + 2])
        rows, i = [], i + 3
        while i < len(lines) and lines[i] and not lines[i][0].startswith("#"):
            rows.append(list(lines[i]))
            i += 1
        tables[start.group(1)] = (header, rows)
    parsed = _tabular("CSV", identity, tables)
    report(
        f"report file: CSV, states content_sha256 {identity.content_sha256} "
        f"({identity.describe()})"
    )
    return parsed


def _xlsx(data: bytes, path: str, report: Report) -> ReportFile:
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
        properties = {p.name: p.value for p in book.custom_doc_props.props}
        keywords = str(book.properties.keywords or "")
        sheets = {
            name: [list(r) for r in book[name].iter_rows(values_only=True)]
            for name in book.sheetnames
        }
    except Exception as e:  # zipfile, XML and openpyxl errors on a damaged file
        raise UnusableInputError(f"cannot read {path} as an XLSX workbook: {e}") from e
    identity = _identity(properties, f"{path} document properties")
    what = "report file"
    if f"content_sha256={identity.content_sha256}" not in keywords:
        raise CheckFailedError(
            what,
            f"the document properties state content_sha256 {identity.content_sha256}, the "
            f"keywords {keywords!r}",
        )
    evidence = {str(r[0]).strip(): r[1] for r in sheets.get("evidence", []) if len(r) >= 2 and r[0]}
    stated = {name: getattr(identity, name) for name in IDENTITY_FIELDS}
    for name, value in stated.items():
        if name in evidence and _cell_text(evidence[name]) != str(value):
            raise CheckFailedError(
                what,
                f"the evidence sheet states {name} {evidence[name]}, the document properties "
                f"{value}",
            )
    tables = {}
    for name in FIGURE_TABLES:
        if name not in sheets or len(sheets[name]) < 2:
            raise UnusableInputError(f"{path}: no {name} sheet with its two header rows")
        rows = [r for r in sheets[name][2:] if any(v is not None for v in r)]
        tables[name] = (Header.parse(sheets[name][1]), rows)
    parsed = _tabular("XLSX", identity, tables)
    report(
        f"report file: XLSX, its properties, keywords and evidence sheet state content_sha256 "
        f"{identity.content_sha256} ({parsed.identity.describe()})"
    )
    return parsed


def _cell_text(value: Any) -> str:
    """A cell as text (an integer typed as a number may come back as a float)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_report(path: str, report: Report) -> ReportFile:
    """The report file, its format detected by content; its own integrity checked (1.)."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise UnusableInputError(f"cannot read {path}: {e}") from e
    if data.startswith(b"%PDF"):
        return _pdf(data, path, report)
    if data.startswith(b"PK"):
        return _xlsx(data, path, report)
    if data.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"{"):
        return _json(data, path, report)
    return _csv(data, path, report)


# --- the log ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogPrefix:
    """What the report rests on, from the export: the root of its first ``size`` leaves, the
    allocation, day result and credit issuance leaves among them, and every report leaf of the
    export (with its index)."""

    size: int
    root: bytes
    allocations: list[AllocationLeaf]
    day_results: list[ResultLeaf]
    reports: list[tuple[int, ReportLeaf]]
    issuances: list[CreditIssuanceLeaf] = field(default_factory=list)


def read_prefix(export_path: str, tree_size: int) -> LogPrefix:
    """A second pass over an export that ``verify_recompute`` has checked (every leaf parses):
    the recomputation keeps neither leaf indices nor report leaves."""
    tree = CompactRange()
    allocations: list[AllocationLeaf] = []
    day_results: list[ResultLeaf] = []
    reports: list[tuple[int, ReportLeaf]] = []
    issuances: list[CreditIssuanceLeaf] = []
    for item in read_export(export_path):
        if isinstance(item, ExportCheckpoint):
            continue
        leaf = parse_leaf(encoding.decode_leaf(item.data))
        if isinstance(leaf, ReportLeaf):
            reports.append((item.index, leaf))
        if item.index >= tree_size:
            continue
        tree.append([merkle.leaf_hash(item.data)])
        if isinstance(leaf, AllocationLeaf):
            allocations.append(leaf)
        elif isinstance(leaf, ResultLeaf) and leaf.result.period == "day":
            day_results.append(leaf)
        elif isinstance(leaf, CreditIssuanceLeaf):
            issuances.append(leaf)
    return LogPrefix(tree.size, tree.root(), allocations, day_results, reports, issuances)


@dataclass(frozen=True)
class Expected:
    """The recomputed figures in content units (Wh, g, days, ratios, amounts), by column id."""

    allocation: dict[Key, dict[str, Decimal]]  # by asset id
    impact: dict[Key, dict[str, Decimal | None]]  # None: the log states no such figure
    currencies: set[str]


def _content_units(row: Mapping[str, Any]) -> dict[str, Decimal | None]:
    return {c.id: None if row[c.key] is None else Decimal(row[c.key]) for c in IMPACT}


def expected_figures(identity: Identity, prefix: LogPrefix, recomputer: Recomputer) -> Expected:
    """The figures as the service computes them (app/reports/service.build_content): the
    bond's allocations, the day results and the credit issuances (the credited and claimable
    CO2, app/pure/credited.py) among the cited checkpoint's leaves. A savings
    uncertainty is evaluated with the baseline refitted for the day it rests on (the
    recomputation checked that day's own uncertainty with that fit)."""
    # The period's kind changes no figure: only its dates count.
    period = rules.ReportPeriod("range", identity.period_start, identity.period_end)
    allocations = [a for a in prefix.allocations if a.bond_id == identity.bond_id]

    def basis_of(d: rules.Day) -> UncertaintyBasis | None:
        return uncertainty_basis(recomputer.stating_fits.get((d.asset_id, d.day, d.revision)))

    figures = rules.impact_figures(
        period, allocations, map(rules.Day.of, prefix.day_results), basis_of, prefix.issuances
    )
    impact: dict[Key, dict[str, Decimal | None]] = {
        asset_id: _content_units(rules.impact_row(f)) for asset_id, f in figures.items()
    }
    impact[rules.PORTFOLIO_KEY] = _content_units(rules.portfolio_row(figures.values()))
    allocation: dict[Key, dict[str, Decimal]] = {
        a.asset_id: {c.id: Decimal(getattr(a, c.key)) for c in ALLOCATION} for a in allocations
    }
    return Expected(allocation, impact, {a.currency for a in allocations})


def _text(value: Decimal | None) -> str:
    return "(empty)" if value is None else format(value, "f")


def _order(key: Key) -> tuple[bool, int]:
    """Projects by asset id, the portfolio last."""
    return (isinstance(key, str), key if isinstance(key, int) else 0)


def first_difference(
    file: ReportFile, expected: Expected, prefix: LogPrefix
) -> CheckFailedError | None:
    """The first figure (or project, or currency) where the file and the log differ."""
    difference = _table_difference(
        "allocation", ALLOCATION, file.allocation, expected.allocation, file, prefix
    ) or _table_difference("impact", IMPACT, file.impact, expected.impact, file, prefix)
    if difference is None and expected.currencies and expected.currencies != {file.currency}:
        return CheckFailedError(
            "allocation currency",
            f"the report gives amounts in {file.currency}, the log's allocations are in "
            f"{', '.join(sorted(expected.currencies))}",
        )
    return difference


def _table_difference(
    table: str,
    columns: tuple[rules.Column, ...],
    rows: Mapping[Key, Row],
    wanted: Mapping[Key, Mapping[str, Decimal | None]],
    file: ReportFile,
    prefix: LogPrefix,
) -> CheckFailedError | None:
    bond = file.identity.bond_id
    for key in sorted(set(rows) | set(wanted), key=_order):
        if key not in wanted:
            return CheckFailedError(
                f"{table} {rows[key].name}",
                f"the report lists it, the log's first {prefix.size} leaves allocate no "
                f"proceeds of bond {bond} to asset {key}",
            )
        if key not in rows:
            if isinstance(key, str):
                return CheckFailedError(f"{table} {key}", "the report has no portfolio row")
            return CheckFailedError(
                f"{table} {_row_name(key, file.asset_codes.get(key))}",
                f"the log's first {prefix.size} leaves allocate proceeds of bond {bond} to "
                "it, the report does not list it",
            )
        row = rows[key]
        for column in columns:
            shown, raw = row.values[column.id], wanted[key][column.id]
            if (None if shown is None else column.raw(shown)) != raw:
                return CheckFailedError(
                    f"{table} {row.name} {column.id}",
                    f"the report says {_text(shown)}, the log gives {_text(column.value(raw))}",
                )
    return None


# --- the checks against the log and the chain ---------------------------------------------------


def _check_leaf(
    file: ReportFile, prefix: LogPrefix, expected: Expected, export_size: int, report: Report
) -> None:
    identity = file.identity
    matches = [(i, r) for i, r in prefix.reports if r.content_sha256_hex == identity.content_sha256]
    if not matches:
        reason = (
            f"no report leaf among the export's {export_size} leaves has content_sha256 "
            f"{identity.content_sha256}"
        )
        if file.status == "provisional":
            reason += " (the report says it is provisional: only a closed period's is logged)"
        if prefix.size == identity.checkpoint_tree_size:
            difference = first_difference(file, expected, prefix)
            if difference is not None:
                reason += f"; and its figures differ from the log: {difference}"
        raise CheckFailedError("report leaf", reason)
    index, leaf = matches[0]
    what = f"report leaf {index}"
    for name, theirs, mine in (
        ("bond_id", leaf.bond_id, identity.bond_id),
        ("period_start", leaf.period_start, identity.period_start),
        ("period_end", leaf.period_end, identity.period_end),
        ("checkpoint_number", leaf.checkpoint_number, identity.checkpoint_number),
        ("checkpoint_tree_size", leaf.checkpoint_tree_size, identity.checkpoint_tree_size),
    ):
        if theirs != mine:
            raise CheckFailedError(what, f"{name}: the leaf says {theirs}, the file says {mine}")
    if index < identity.checkpoint_tree_size:
        raise CheckFailedError(
            what,
            f"it is among the {identity.checkpoint_tree_size} leaves of the checkpoint it cites "
            "(a report is logged after the checkpoint it rests on)",
        )
    report(
        f"report leaf {index} (in the export's anchored checkpoint) has content_sha256 "
        f"{identity.content_sha256}: {identity.describe()}, as the file states"
    )


def _check_chain(
    file: ReportFile, prefix: LogPrefix, chain: Chain, export: ExportCheckpoint, report: Report
) -> None:
    identity = file.identity
    number, size = identity.checkpoint_number, identity.checkpoint_tree_size
    record = chain.checkpoint_record(export.contract, number)
    what = "on chain"
    if record.tree_size != size:
        raise CheckFailedError(
            what,
            f"checkpoint {number} has tree size {record.tree_size}, the report cites tree size "
            f"{size}",
        )
    if record.root != prefix.root:
        raise CheckFailedError(
            what,
            f"checkpoint {number} holds root {record.root.hex()}, the export's first {size} "
            f"leaves give {prefix.root.hex()}",
        )
    stated = ""
    if file.checkpoint is not None:
        where = "report checkpoint"
        root_hex = field_of(file.checkpoint, "root_hex", str, where)
        chain_id = field_of(file.checkpoint, "chain_id", int, where)
        contract = field_of(file.checkpoint, "contract_address", str, where)
        if root_hex != record.root.hex():
            raise CheckFailedError(
                what,
                f"checkpoint {number} holds root {record.root.hex()}, the report states "
                f"{root_hex}",
            )
        if (chain_id, contract.lower()) != (export.chain_id, export.contract.lower()):
            raise CheckFailedError(
                what,
                f"the report cites contract {contract} on chain {chain_id}, the export is "
                f"{export.contract}'s on chain {export.chain_id}",
            )
        stated = ", as the report states"
    report(
        f"on chain: checkpoint {number} has tree size {size} and root {record.root.hex()}, the "
        f"root of the export's first {size} leaves{stated}"
    )


def _check_pdf_text(file: ReportFile, expected: Expected, report: Report) -> None:
    """Each recomputed impact figure, as Column.shown prints it, is a number of the text of the
    pages that show its project (the portfolio's: anywhere): "6" is not found in "614"."""
    count = 0
    for key, raws in sorted(expected.impact.items(), key=lambda item: _order(item[0])):
        if isinstance(key, int):
            code = file.asset_codes.get(key, "")
            name = _row_name(key, code)
            mention = re.compile(rf"(?<![\w-]){re.escape(code)}(?![\w-])")
            pages = [t for t in file.page_texts if code and mention.search(t)]
            if not pages:
                raise CheckFailedError(f"PDF text {name}", f"no page shows {code or name}")
            where = f"the text of the pages that show {code}"
        else:
            name, pages, where = key, list(file.page_texts), "the PDF's text"
        text = "\n".join(pages)
        for column in IMPACT:
            if raws[column.id] is None:
                continue  # an empty cell ("-") is no figure to find; the attachment has null
            shown = column.shown(raws[column.id])
            if not re.search(rf"(?<![\d.,-]){re.escape(shown)}(?!\d|[.,]\d)", text):
                raise CheckFailedError(
                    f"PDF text {name} {column.id}", f"{shown!r} is not in {where}"
                )
            count += 1
    report(
        f"PDF text: each of the {count} recomputed impact figures is printed on its project's pages"
    )


def verify_report(
    path: str,
    export_path: str,
    chain: Chain,
    contract: str,
    report: Report,
    *,
    expect_chain_id: int | None = None,
) -> None:
    """All checks above, in order; CheckFailedError at the first that fails."""
    file = read_report(path, report)
    recomputer, export = verify_recompute(
        export_path, chain, contract, report, expect_chain_id=expect_chain_id
    )
    identity = file.identity
    prefix = read_prefix(export_path, identity.checkpoint_tree_size)
    expected = expected_figures(identity, prefix, recomputer)
    _check_leaf(file, prefix, expected, export.tree_size, report)
    _check_chain(file, prefix, chain, export, report)
    difference = first_difference(file, expected, prefix)
    if difference is not None:
        raise difference
    figures = len(file.allocation) * len(ALLOCATION) + len(file.impact) * len(IMPACT)
    report(
        f"figures: the {figures} recomputed figures of {len(file.allocation)} projects and the "
        f"portfolio equal the log's first {identity.checkpoint_tree_size} leaves"
    )
    if file.kind == "PDF":
        _check_pdf_text(file, expected, report)

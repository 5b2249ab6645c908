"""The report as an XLSX workbook: one sheet per figure table (``allocation``, ``impact``,
``monthly``, ``emission_factors``: row 1 the localized header with units, row 2 the machine ids as
in the CSV, data from row 3) and an ``evidence`` sheet of key / value pairs (identification,
checkpoint, proof links, allocation totals). Figures are typed numbers (the exact Decimal written
as a number) with a number format of the column's shown decimals; custom document properties
carry the content hash and the ids of the report leaf."""

import io
from collections.abc import Mapping, Sequence
from typing import Any

from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE  # type: ignore[import-untyped]
from openpyxl.packaging.custom import (  # type: ignore[import-untyped]
    IntProperty,
    StringProperty,
)
from openpyxl.styles import Alignment, Font  # type: ignore[import-untyped]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]

from app.reports.render.labels import Labels
from app.reports.render.tables import (
    TOTAL_FIELDS,
    Field,
    evidence_items,
    figure_tables,
    identification,
    report_title,
    typed,
)

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER_ROWS = 2
BOLD = Font(bold=True)
WRAP = Alignment(wrap_text=True, vertical="top")


def number_format(places: int) -> str:
    return "#,##0" if places == 0 else "#,##0." + "0" * places


def _width(field: Field) -> float:
    if field.kind in ("figure", "decimal", "int"):
        return 16
    if field.kind == "key":
        return 11
    return 24


def _cell(value: Any) -> Any:
    """Text as a worksheet can hold it: XML 1.0 has no place for most control characters."""
    return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value) if isinstance(value, str) else value


def _sheet(
    wb: Any, name: str, header: Sequence[str], machine: Sequence[str], rows: list[list[Any]]
) -> Any:
    ws = wb.create_sheet(name)
    ws.append(list(header))
    ws.append(list(machine))
    for cell in ws[1]:
        cell.font, cell.alignment = BOLD, WRAP
    for row in rows:
        ws.append([_cell(value) for value in row])
    ws.freeze_panes = ws.cell(HEADER_ROWS + 1, 2)
    return ws


def _format_column(ws: Any, index: int, fmt: str, rows: int) -> None:
    for (cell,) in ws.iter_rows(
        min_row=HEADER_ROWS + 1, max_row=HEADER_ROWS + rows, min_col=index, max_col=index
    ):
        cell.number_format = fmt


def render_xlsx(content: Mapping[str, Any], content_sha256: str, labels: Labels) -> bytes:
    currency = content["bond"]["currency"]
    wb = Workbook()
    wb.remove(wb.active)
    for table in figure_tables(content).values():
        ws = _sheet(
            wb,
            table.name,
            [f.header(labels, currency) for f in table.fields],
            [f.machine_header(currency) for f in table.fields],
            [[typed(f, row, labels) for f in table.fields] for row in table.rows],
        )
        for index, field in enumerate(table.fields, start=1):
            ws.column_dimensions[get_column_letter(index)].width = _width(field)
            if field.kind in ("figure", "decimal"):
                _format_column(ws, index, number_format(field.places), len(table.rows))

    totals = content["allocation"]["totals"]
    ws = _sheet(
        wb,
        "evidence",
        [labels("col.key"), labels("col.value")],
        ["key", "value"],
        [
            *([key, value] for key, value in evidence_items(content, content_sha256)),
            *([f.machine_header(currency), typed(f, totals, labels)] for f in TOTAL_FIELDS),
        ],
    )
    ws.column_dimensions["A"].width = 30
    ws.column_dimensions["B"].width = 90
    first_total = ws.max_row - len(TOTAL_FIELDS) + 1
    for offset, field in enumerate(TOTAL_FIELDS):
        if field.kind == "decimal":
            ws.cell(first_total + offset, 2).number_format = number_format(field.places)

    ids = identification(content, content_sha256)
    for name, value in ids.items():
        prop = IntProperty if isinstance(value, int) else StringProperty
        wb.custom_doc_props.append(prop(name=name, value=value))
    wb.properties.title = report_title(content, labels)
    wb.properties.keywords = f"content_sha256={content_sha256}"
    wb.properties.subject = content["format"]
    wb.properties.creator = content["bond"]["issuer"]
    wb.properties.language = labels.lang
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()

"""The report as CSV (UTF-8 with BOM for spreadsheet programs, RFC 4180, CRLF): two comment
lines naming the report (content hash, bond, period, checkpoint), then each table with a comment
naming it, a comment with the localized header, the machine header (``id [unit]``) and the rows.

Data rows are the same in both languages (exact values, codes as codes): only the comment lines
are localized, so the two files carry one table."""

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any

from app.reports.render.labels import Labels
from app.reports.render.tables import (
    TOTAL_FIELDS,
    Table,
    figure_tables,
    identification,
    machine_text,
)

CRLF = "\r\n"
TABLE_ORDER = ("allocation", "allocation_totals", "impact", "monthly", "emission_factors")


def csv_row(cells: Iterable[str]) -> str:
    """One RFC 4180 record, CRLF-terminated."""
    out = io.StringIO()
    csv.writer(out, lineterminator=CRLF).writerow(cells)
    return out.getvalue()


def csv_table(name: str, human: list[str], machine: list[str], rows: Iterable[list[str]]) -> str:
    """A comment naming the table, a comment with the localized header, the machine header and
    the rows."""
    return "".join(
        [
            f"# table={name}{CRLF}",
            "# " + csv_row(human),
            csv_row(machine),
            *(csv_row(r) for r in rows),
        ]
    )


def _figures(table: Table, labels: Labels, currency: str) -> str:
    return csv_table(
        table.name,
        [f.header(labels, currency) for f in table.fields],
        [f.machine_header(currency) for f in table.fields],
        ([machine_text(f, row) for f in table.fields] for row in table.rows),
    )


def _totals(totals: Mapping[str, Any], labels: Labels) -> str:
    return csv_table(
        "allocation_totals",
        [labels("col.key"), labels("col.value")],
        ["key", "value"],
        ([f.id, machine_text(f, totals)] for f in TOTAL_FIELDS),
    )


def render_csv(content: Mapping[str, Any], content_sha256: str, labels: Labels) -> bytes:
    ids = identification(content, content_sha256)
    currency = content["bond"]["currency"]
    tables = figure_tables(content)
    blocks = {name: _figures(table, labels, currency) for name, table in tables.items()} | {
        "allocation_totals": _totals(content["allocation"]["totals"], labels)
    }
    head = (
        f"# gbt-green-bond-report content_sha256={ids['content_sha256']}{CRLF}"
        f"# bond_id={ids['bond_id']} period_start={ids['period_start']} "
        f"period_end={ids['period_end']} checkpoint_number={ids['checkpoint_number']} "
        f"checkpoint_tree_size={ids['checkpoint_tree_size']} lang={labels.lang}{CRLF}"
    )
    text = head + CRLF.join(blocks[name] for name in TABLE_ORDER)
    return text.encode("utf-8-sig")

"""The ``report`` leaf, rebuilt from its ``published_report`` row. Registered with the ledger's
leaf builders on import (app/reports/__init__.py), since the ledger sits below this domain."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.ledger.sources import register_kind
from app.pure.leaves import ReportLeaf
from app.reports.models import PublishedReport


def report_leaf(row: PublishedReport) -> ReportLeaf:
    return ReportLeaf(
        report_id=row.id,
        bond_id=row.bond_id,
        period_kind=row.period_kind,
        period_start=row.period_start,
        period_end=row.period_end,
        checkpoint_number=row.checkpoint_number,
        checkpoint_tree_size=row.checkpoint_tree_size,
        content_sha256_hex=row.content_sha256,
    )


def report_leaves(session: Session, ids: list[int]) -> dict[int, bytes]:
    rows = session.scalars(select(PublishedReport).where(PublishedReport.id.in_(ids)))
    return {row.id: report_leaf(row).encode() for row in rows}


register_kind("report", report_leaves)

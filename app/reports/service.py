"""Build a bond's green bond report at a confirmed checkpoint: the allocation table, the impact
table (app/pure/report.py computes the figures from the day results logged up to the
checkpoint), the evidence block; publish it (a ``report`` leaf) when its period is closed.

The content is deterministic for (bond, period, checkpoint, the issuer's report details): the
same request gives the same bytes and hash, so publishing is idempotent by content hash.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audit.service import checkpoint_ref, cited_checkpoint
from app.core.db import utcnow
from app.impact.factors import factors_by_ids
from app.impact.models import BaselineFitRecord, ImpactResult
from app.impact.resolution import fit_of_record
from app.ledger.credited import issuance_leaves
from app.ledger.models import Checkpoint, LogEntry
from app.ledger.sources import allocation_leaf
from app.outbox.service import enqueue
from app.pure import report as rules
from app.pure.calc.results import uncertainty_basis
from app.pure.encoding import canonical_json
from app.pure.leaves import AllocationLeaf
from app.registry import service as registry
from app.registry.models import Allocation, Bond, GreenAsset
from app.reports.models import PublishedReport

KIND = "report"
# ICMA category when the issuer has not declared one: by what the asset is.
DEFAULT_CATEGORY = {"building": "green_buildings", "renewable_facility": "renewable_energy"}


@dataclass(frozen=True)
class Report:
    content: dict[str, Any]
    content_sha256: str
    status: str  # final | provisional
    logged_state: str  # logged | queued | not_logged
    leaf_index: int | None


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _in_prefix(kind: str, ref_id: Any, tree_size: int) -> Any:
    """Rows whose leaf is among the first ``tree_size`` leaves of the log."""
    return (
        select(LogEntry.ref_id)
        .where(LogEntry.kind == kind, LogEntry.ref_id == ref_id, LogEntry.leaf_index < tree_size)
        .exists()
    )


def _allocations(
    session: Session, bond: Bond, tree_size: int
) -> list[tuple[Allocation, GreenAsset]]:
    rows = session.execute(
        select(Allocation, GreenAsset)
        .join(GreenAsset, GreenAsset.id == Allocation.asset_id)
        .where(Allocation.bond_id == bond.id, _in_prefix("allocation", Allocation.id, tree_size))
        .order_by(Allocation.id)
    )
    return [(a, g) for a, g in rows]


def _day_results(
    session: Session,
    asset_ids: list[int],
    period: rules.ReportPeriod,
    first: date,
    tree_size: int,
) -> Iterator[rules.Day]:
    """The day results logged among the first ``tree_size`` leaves, read as plain columns (a
    year of a thousand assets is 365,000 rows: no ORM objects)."""
    if not asset_ids:
        return
    r = ImpactResult
    query = (
        select(
            r.asset_id,
            r.period_start,
            r.revision,
            r.final,
            r.metered_wh,
            r.benchmark_wh,
            r.reduction_wh,
            r.co2_avoided_g,
            r.intervals_present,
            r.intervals_expected,
            r.flags,
            r.method,
            r.method_version,
            r.factor_ids,
            r.baseline_fit_id,
            r.savings_uncertainty_68_wh,
        )
        .join(LogEntry, (LogEntry.kind == "result") & (LogEntry.ref_id == r.id))
        .where(
            LogEntry.leaf_index < tree_size,
            r.period == "day",
            r.period_start >= first,
            r.period_start <= period.end,
        )
    )
    # A bond of a few assets filters by asset; a large one reads the period and drops others.
    if len(asset_ids) <= 500:
        query = query.where(r.asset_id.in_(asset_ids))
    for row in session.connection().execute(query):  # Core rows: no ORM loading per row
        (asset_id, day, revision, final, metered, benchmark, reduction, co2, present, expected) = (
            row[:10]
        )
        flags, factor_ids = row[10], row[13]
        yield rules.Day(
            asset_id,
            day,
            revision,
            final,
            metered,
            benchmark,
            reduction,
            co2,
            present,
            expected,
            tuple(flags.split(",")) if flags else (),
            row[11],
            row[12],
            tuple(map(int, factor_ids.split(","))) if factor_ids else (),
            row[14],
            row[15] is not None,
        )


def _fit(record: BaselineFitRecord) -> dict[str, Any]:
    fit = json.loads(record.fit_json) if record.fit_json else None
    metrics = {}
    if isinstance(fit, dict):
        metrics = {
            k: str(fit[k])
            for k in ("model_type", "n_days", "r_squared", "adj_r_squared", "cvrmse", "nmbe")
            if k in fit
        }
    return {"id": record.id, "summary": record.summary, "metrics": metrics}


def _factor(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "region": row.region,
        "kind": row.kind,
        "kg_co2_per_kwh": str(row.kg_co2_per_kwh),
        "valid_from": row.valid_from.isoformat(),
        "valid_to": row.valid_to.isoformat(),
        "publisher": row.publisher,
        "document": row.document,
        "published_on": row.published_on.isoformat(),
        "source_url": row.source_url,
    }


def _checkpoint_json(cp: Checkpoint) -> dict[str, Any]:
    """The checkpoint as proof bundles name it, with when it closed and its methodology hash."""
    return {
        **checkpoint_ref(cp).model_dump(),
        "closes_at": cp.closes_at.isoformat(),
        "methodology_hash_hex": cp.methodology_hash.hex(),
    }


def _allocation_row(a: Allocation, asset: GreenAsset, period: rules.ReportPeriod) -> dict[str, Any]:
    operating = asset.commissioning_date is None or asset.commissioning_date <= period.end
    return {
        "allocation_id": a.id,
        "asset_id": asset.id,
        "asset_code": asset.code,
        "project_name": asset.name,
        "location": asset.location,
        "description": asset.description,
        "eligible_category": a.eligible_category or DEFAULT_CATEGORY[asset.kind],
        "progress": "operating" if operating else "under_construction",
        "commissioning_date": _iso(asset.commissioning_date),
        "project_cost": _text(a.project_cost),
        "amount_allocated": str(a.amount_allocated),
        "financing_share": str(a.financing_share),
        "financing_type": "refinancing" if a.refinancing else "financing",
        "lookback_years": a.lookback_years,
        "allocated_on": (a.allocated_on or a.created_at.date()).isoformat(),
    }


def _iso(value: Any) -> str | None:
    return None if value is None else str(value.isoformat())


def _sum_text(values: list[str | None]) -> str | None:
    present = [Decimal(v) for v in values if v is not None]
    return str(sum(present, Decimal(0))) if present else None


def _allocation_totals(bond: Bond, rows: list[dict[str, Any]]) -> dict[str, Any]:
    allocated = sum((Decimal(r["amount_allocated"]) for r in rows), Decimal(0))
    refinanced = sum(
        (Decimal(r["amount_allocated"]) for r in rows if r["financing_type"] == "refinancing"),
        Decimal(0),
    )
    proceeds = bond.amount_issued
    return {
        "proceeds": str(proceeds),
        "allocated": str(allocated),
        "unallocated": str(proceeds - allocated),
        "allocated_share": str(_ratio(allocated, proceeds)),
        "refinancing_share": str(_ratio(refinanced, allocated)),
        "unallocated_held_as": bond.unallocated_held_as,
    }


def _ratio(part: Decimal, whole: Decimal) -> Decimal:
    if whole == 0:
        return Decimal(0)
    return (part / whole).quantize(Decimal("0.0001"))


def build_content(
    session: Session, bond_id: int, period: rules.ReportPeriod, checkpoint: int | None
) -> tuple[dict[str, Any], str]:
    """The report's content and its status (final: the period is closed in the checkpoint's
    prefix, ``rules.closed``)."""
    bond = registry.get_bond(session, bond_id)
    cp = cited_checkpoint(session, checkpoint, "a report")
    pairs = _allocations(session, bond, cp.tree_size)
    leaves: list[AllocationLeaf] = [allocation_leaf(a, bond) for a, _ in pairs]
    first = period.counted_from(bond.issue_date)
    days = list(_day_results(session, [a.asset_id for a, _ in pairs], period, first, cp.tree_size))
    # Every fit the days name, in one query: the uncertainty below asks for one per asset
    # (``fit_of_record`` then finds it in the session) and the disclosure lists them.
    named = {d.baseline_fit_id for d in days if d.baseline_fit_id is not None}
    records = {
        r.id: r
        for r in session.scalars(select(BaselineFitRecord).where(BaselineFitRecord.id.in_(named)))
    }
    # The credits issued from the bond's assets, logged in the same prefix: their share of the
    # attributed CO2 shows as credited, the rest as claimable.
    assets = {a.asset_id for a, _ in pairs}
    issuances = [i for i in issuance_leaves(session, cp.tree_size) if i.asset_id in assets]
    figures = rules.impact_figures(
        period,
        leaves,
        days,
        lambda d: uncertainty_basis(fit_of_record(session, d.baseline_fit_id)),
        issuances,
    )
    factor_ids = sorted({i for f in figures.values() for i in f.factor_ids})
    allocation_rows = [_allocation_row(a, asset, period) for a, asset in pairs]
    projects = []
    for (a, asset), allocation in zip(pairs, allocation_rows, strict=True):
        f = figures[asset.id]
        projects.append(
            {
                "asset_id": asset.id,
                "asset_code": asset.code,
                "project_name": asset.name,
                "eligible_category": allocation["eligible_category"],
                "kind": asset.kind,
                **rules.impact_row(f),
                "provisional_days": f.provisional_days,
                "flags": dict(sorted(f.flags.items())),
                "methods": sorted(f.methods),
                "emission_factor_ids": sorted(f.factor_ids),
                "baseline_fits": [_fit(records[i]) for i in sorted(f.baseline_fit_ids)],
                "capacity_kw": _text(asset.capacity_kw),
                "expected_energy_savings_mwh": _text(a.expected_energy_savings_mwh),
                "expected_co2_avoided_t": _text(a.expected_co2_avoided_t),
                "expected_generation_mwh": _text(a.expected_generation_mwh),
            }
        )
    portfolio = rules.portfolio_row(figures.values())
    for key in (
        "capacity_kw",
        "expected_energy_savings_mwh",
        "expected_co2_avoided_t",
        "expected_generation_mwh",
    ):
        portfolio[key] = _sum_text([p[key] for p in projects])
    status = "final" if rules.closed(period, figures.values()) else "provisional"
    content = {
        "format": rules.REPORT_FORMAT,
        "status": status,
        "bond": {
            "id": bond.id,
            "code": bond.code,
            "name": bond.name,
            "issuer": bond.issuer,
            "currency": bond.currency,
            "amount_issued": str(bond.amount_issued),
            "issue_date": bond.issue_date.isoformat(),
            "maturity_date": bond.maturity_date.isoformat(),
        },
        "period": {**period.as_json(), "counted_from": first.isoformat()},
        "checkpoint": _checkpoint_json(cp),
        "allocation": {
            "projects": allocation_rows,
            "totals": _allocation_totals(bond, allocation_rows),
        },
        "impact": {
            "projects": projects,
            "portfolio": portfolio,
            "monthly": rules.monthly_rows(period, figures.values()),
            "emission_factors": [
                _factor(r) for r in sorted(factors_by_ids(session, factor_ids).values(), key=_id)
            ],
        },
        "evidence": {
            "checkpoint_number": cp.number,
            "allocation_proof": "/v1/audit/proofs/allocation/{allocation_id}"
            f"?checkpoint={cp.number}",
            "result_proof": f"/v1/audit/proofs/result/{{result_id}}?checkpoint={cp.number}",
            "results": "/v1/investor/assets/{asset_id}/results?period=day"
            f"&start={first.isoformat()}&end={period.end.isoformat()}",
            "export": "/v1/audit/export?to={checkpoint_number}",
            "verify": "gbt-verify report FILE --export EXPORT --rpc URL --contract "
            f"{cp.contract_address}, EXPORT being the export up to a checkpoint that "
            "includes this report's leaf (the figures are recomputed at checkpoint "
            f"{cp.number})",
        },
    }
    return content, status


def _id(row: Any) -> int:
    return int(row.id)


def report(
    session: Session, bond_id: int, period: rules.ReportPeriod, checkpoint: int | None = None
) -> Report:
    """The report; a final one is published (its leaf queued) the first time it is built."""
    content, status = build_content(session, bond_id, period, checkpoint)
    digest = rules.content_sha256(content)
    if status != "final":
        session.rollback()
        return Report(content, digest, status, "not_logged", None)
    published = _publish(session, bond_id, period, content, digest)
    leaf_index = session.scalar(
        select(LogEntry.leaf_index).where(LogEntry.kind == KIND, LogEntry.ref_id == published.id)
    )
    state = "queued" if leaf_index is None else "logged"
    return Report(content, digest, status, state, leaf_index)


def _publish(
    session: Session,
    bond_id: int,
    period: rules.ReportPeriod,
    content: dict[str, Any],
    digest: str,
) -> PublishedReport:
    existing = session.scalar(
        select(PublishedReport).where(PublishedReport.content_sha256 == digest)
    )
    if existing is not None:
        session.rollback()
        return existing
    row = PublishedReport(
        bond_id=bond_id,
        period_kind=period.kind,
        period_start=period.start,
        period_end=period.end,
        checkpoint_number=content["checkpoint"]["number"],
        checkpoint_tree_size=content["checkpoint"]["tree_size"],
        content_sha256=digest,
        content_json=canonical_json(content).decode(),
        created_at=utcnow(),
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # published at the same moment by another request: that one stands
        session.rollback()
        return session.scalars(
            select(PublishedReport).where(PublishedReport.content_sha256 == digest)
        ).one()
    enqueue(session, KIND, [row.id])
    session.commit()
    return row


def published(session: Session, bond_id: int) -> list[tuple[PublishedReport, int | None]]:
    """The bond's published reports, newest first, each with its leaf index (None: queued)."""
    registry.get_bond(session, bond_id)
    rows = session.execute(
        select(PublishedReport, LogEntry.leaf_index)
        .outerjoin(LogEntry, (LogEntry.kind == KIND) & (LogEntry.ref_id == PublishedReport.id))
        .where(PublishedReport.bond_id == bond_id)
        .order_by(PublishedReport.id.desc())
    )
    return [(r, i) for r, i in rows]

"""Credit projects, monitoring reports and the verifier's decisions (docs/credits.md).

A monitoring report is built at a confirmed checkpoint from the asset's day results logged up
to it (the latest revision of each day), by the pure rules of app/pure/credits.py; its content
is deterministic for (project, period, checkpoint), so asking again finds the same report. It
is logged as a ``monitoring_report`` leaf. A verifier approves or rejects it once; the decision
is a ``credit_approval`` leaf, which an issuance cites on chain.
"""

import json
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audit.service import checkpoint_ref, cited_checkpoint
from app.core.db import utcnow
from app.core.errors import ApiError, FieldError, not_found, unprocessable
from app.core.security import Verifier
from app.credits.leaves import APPROVAL, REPORT
from app.credits.models import CreditIssuance, CreditProject, MonitoringApproval, MonitoringReport
from app.credits.schemas import DecisionIn, MonitoringReportIn, ProjectIn
from app.impact.factors import factors_by_ids
from app.impact.models import EmissionFactorVersion, ImpactResult
from app.impact.result_rows import to_period_result
from app.ledger.log import leaf_index_of
from app.ledger.models import LogEntry
from app.outbox.service import enqueue
from app.pure import credits as rules
from app.pure.encoding import canonical_json
from app.pure.report import content_sha256
from app.registry import service as registry
from app.registry.models import GreenAsset, Meter

# --- projects ---------------------------------------------------------------------------------


def put_project(session: Session, asset_id: int, body: ProjectIn) -> tuple[CreditProject, bool]:
    """Registers the asset as a credit project, or updates its registration (reports already
    built keep the methodology they were built under). (project, created)."""
    registry.get_asset(session, asset_id)
    project = session.scalar(select(CreditProject).where(CreditProject.asset_id == asset_id))
    created = project is None
    now = utcnow()
    if project is None:
        project = CreditProject(asset_id=asset_id, created_at=now)
        session.add(project)
    project.code, project.name = body.code, body.name
    project.methodology_id, project.methodology_title = body.methodology_id, body.methodology_title
    project.updated_at = now
    try:
        session.commit()
    except IntegrityError as e:
        session.rollback()
        raise ApiError(
            409,
            "conflict",
            f"project code {body.code!r} belongs to another asset's credit project",
            [FieldError("code", "already used by another credit project")],
        ) from e
    return project, created


def get_project(session: Session, project_id: int) -> CreditProject:
    project = session.get(CreditProject, project_id)
    if project is None:
        raise not_found("credit project", project_id)
    return project


def projects(session: Session) -> list[CreditProject]:
    return list(session.scalars(select(CreditProject).order_by(CreditProject.id)))


# --- monitoring reports -----------------------------------------------------------------------


def credited_overlap(
    session: Session, project_id: int, first: date, last: date
) -> CreditIssuance | None:
    """An issuance of the project whose days overlap ``first``..``last``, if any."""
    return session.scalar(
        select(CreditIssuance)
        .where(
            CreditIssuance.project_id == project_id,
            CreditIssuance.first_day <= last,
            CreditIssuance.last_day >= first,
        )
        .order_by(CreditIssuance.id)
        .limit(1)
    )


def period_already_credited(issuance: CreditIssuance) -> ApiError:
    return ApiError(
        409,
        "period_already_credited",
        f"the days {issuance.first_day} to {issuance.last_day} of this project were credited by "
        f"issuance {issuance.id} (serials {issuance.serial_first}-{issuance.serial_last}): an "
        "asset-day is credited once",
        [FieldError("first_day", "overlaps a period already issued as credits")],
    )


def _days(
    session: Session, asset_id: int, first: date, last: date, tree_size: int
) -> tuple[list[rules.MonitoringDay], dict[int, EmissionFactorVersion]]:
    """The asset's day results for the period logged among the first ``tree_size`` leaves,
    the latest revision of each day, and the emission factors they used."""
    r = ImpactResult
    rows = session.execute(
        select(r)
        .join(LogEntry, (LogEntry.kind == "result") & (LogEntry.ref_id == r.id))
        .where(
            LogEntry.leaf_index < tree_size,
            r.asset_id == asset_id,
            r.period == "day",
            r.period_start >= first,
            r.period_start <= last,
        )
        .order_by(r.period_start, r.revision)
    ).scalars()
    latest = {row.period_start: to_period_result(row) for row in rows}  # the last revision wins
    factors = factors_by_ids(session, sorted({i for d in latest.values() for i in d.factor_ids}))
    days = []
    for day, result in sorted(latest.items()):
        factor = factors.get(result.factor_ids[0]) if result.factor_ids else None
        days.append(
            rules.MonitoringDay(
                day=day,
                metered_wh=result.metered_wh,
                benchmark_wh=result.benchmark_wh,
                reduction_wh=result.reduction_wh,
                co2_avoided_g=result.co2_avoided_g,
                kg_co2_per_kwh=None if factor is None else factor.kg_co2_per_kwh,
                factor_id=None if factor is None else factor.id,
                final=result.final,
                flags=result.flags,
                method=result.method,
            )
        )
    return days, factors


def _factor_refs(factors: dict[int, EmissionFactorVersion]) -> dict[int, rules.FactorRef]:
    return {
        f.id: rules.FactorRef(
            id=f.id,
            region=f.region,
            kind=f.kind,
            kg_co2_per_kwh=f.kg_co2_per_kwh,
            valid_from=f.valid_from,
            valid_to=f.valid_to,
            publisher=f.publisher,
            document=f.document,
            published_on=f.published_on,
            source_url=f.source_url,
        )
        for f in factors.values()
    }


def _project_facts(session: Session, project: CreditProject) -> rules.CreditProject:
    asset = session.get(GreenAsset, project.asset_id)
    assert asset is not None
    meters = session.scalars(
        select(Meter.id).where(Meter.asset_id == asset.id).order_by(Meter.id)
    ).all()
    return rules.CreditProject(
        project_id=project.id,
        code=project.code,
        name=project.name,
        asset_id=asset.id,
        asset_name=asset.name,
        asset_kind=asset.kind,
        methodology_id=project.methodology_id,
        methodology_title=project.methodology_title,
        meter_ids=tuple(meters),
    )


def create_report(
    session: Session, project_id: int, body: MonitoringReportIn
) -> tuple[MonitoringReport, bool]:
    """The project's monitoring report for the period at the checkpoint (the existing one when
    it was built before). (report, created)."""
    project = get_project(session, project_id)
    if body.first_day > body.last_day:
        raise unprocessable([FieldError("last_day", "is before first_day")])
    overlap = credited_overlap(session, project.id, body.first_day, body.last_day)
    if overlap is not None:
        raise period_already_credited(overlap)
    cp = cited_checkpoint(session, body.checkpoint, "a monitoring report")
    days, factors = _days(session, project.asset_id, body.first_day, body.last_day, cp.tree_size)
    facts = _project_facts(session, project)
    try:
        figures = rules.monitoring_figures(facts.asset_kind, body.first_day, body.last_day, days)
    except rules.DaysError as e:
        raise ApiError(
            409,
            "period_not_final",
            f"{e} (at checkpoint {cp.number}: whole, final, anchored days only)",
            [FieldError("last_day", str(e))],
        ) from e
    except rules.MonitoringError as e:  # results the rules cannot report on: never a guess
        raise ApiError(409, "results_not_reportable", f"{e} (at checkpoint {cp.number})") from e
    ref = checkpoint_ref(cp)
    evidence = rules.EvidenceRef(
        checkpoint_number=ref.number,
        tree_size=ref.tree_size,
        root_hex=ref.root_hex,
        chain_id=ref.chain_id,
        contract_address=ref.contract_address,
        tx_hash=ref.tx_hash,
        closes_at=cp.closes_at,
        block_number=ref.block_number,
        methodology_hash_hex=cp.methodology_hash.hex(),
    )
    content = rules.monitoring_content(
        facts, body.first_day, body.last_day, days, _factor_refs(factors), evidence
    )
    sha256 = content_sha256(content)
    existing = session.scalar(
        select(MonitoringReport).where(MonitoringReport.content_sha256 == sha256)
    )
    if existing is not None:
        return existing, False
    report = MonitoringReport(
        project_id=project.id,
        methodology_id=project.methodology_id,
        first_day=body.first_day,
        last_day=body.last_day,
        checkpoint_number=ref.number,
        checkpoint_tree_size=cp.tree_size,
        content_sha256=sha256,
        content_json=canonical_json(content).decode(),
        reductions_g=figures.total.reductions_g,
        reductions_t=figures.total.reductions_t,
        created_at=utcnow(),
    )
    session.add(report)
    try:
        session.flush()
        enqueue(session, REPORT, [report.id])
        session.commit()
    except IntegrityError:  # the same report, built at the same moment by another request
        session.rollback()
        found = session.scalar(
            select(MonitoringReport).where(MonitoringReport.content_sha256 == sha256)
        )
        if found is None:
            raise
        return found, False
    return report, True


def get_report(session: Session, report_id: int) -> MonitoringReport:
    report = session.get(MonitoringReport, report_id)
    if report is None:
        raise not_found("monitoring report", report_id)
    return report


def reports_of(session: Session, project_id: int) -> list[MonitoringReport]:
    get_project(session, project_id)
    return list(
        session.scalars(
            select(MonitoringReport)
            .where(MonitoringReport.project_id == project_id)
            .order_by(MonitoringReport.first_day, MonitoringReport.id)
        )
    )


def content_of(report: MonitoringReport) -> dict[str, object]:
    content: dict[str, object] = json.loads(report.content_json)
    return content


def approval_of(session: Session, report_id: int) -> MonitoringApproval | None:
    return session.scalar(
        select(MonitoringApproval).where(MonitoringApproval.report_id == report_id)
    )


def issuance_of(session: Session, report_id: int) -> CreditIssuance | None:
    return session.scalar(select(CreditIssuance).where(CreditIssuance.report_id == report_id))


def leaf_state(session: Session, kind: str, ref_id: int) -> tuple[str, int | None]:
    index = leaf_index_of(session, kind, ref_id)
    return ("queued", None) if index is None else ("logged", index)


# --- the verifier's decision ------------------------------------------------------------------


def decide(
    session: Session, report_id: int, verifier: Verifier, body: DecisionIn
) -> tuple[MonitoringApproval, bool]:
    """Records the verifier's decision on the report (logged as a leaf). The same decision
    again is a retry (the recorded one, not created); another one is refused: a decision is
    final. (approval, created)."""
    report = get_report(session, report_id)
    existing = approval_of(session, report.id)
    if existing is not None:
        same = (existing.decision, existing.verifier, existing.comment) == (
            body.decision,
            verifier.name,
            body.comment,
        )
        if same:
            return existing, False
        raise ApiError(
            409,
            "already_decided",
            f"monitoring report {report.id} was {existing.decision} by {existing.verifier} at "
            f"{existing.decided_at.isoformat()}: a decision is final (build a new report for "
            "another decision)",
            [FieldError("decision", f"already {existing.decision}")],
        )
    approval = MonitoringApproval(
        report_id=report.id,
        decision=body.decision,
        verifier=verifier.name,
        verifier_key_sha256=verifier.key_sha256,
        comment=body.comment,
        decided_at=utcnow().replace(microsecond=0),
    )
    session.add(approval)
    try:
        session.flush()
        enqueue(session, APPROVAL, [approval.id])
        session.commit()
    except IntegrityError:  # a concurrent decision won
        session.rollback()
        return decide(session, report_id, verifier, body)
    return approval, True

"""Response bodies of the credit API, from the rows (and the indexed events)."""

import json

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.credits import holdings
from app.credits.leaves import APPROVAL, ISSUANCE, REPORT
from app.credits.models import (
    CreditContract,
    CreditEvent,
    CreditIssuance,
    CreditProject,
    MonitoringApproval,
    MonitoringReport,
)
from app.credits.schemas import (
    ApprovalOut,
    IssuanceOut,
    LoggedLeaf,
    MonitoringReportOut,
    ProjectCreditsOut,
    ProjectOut,
    RetirementOut,
)
from app.credits.service import approval_of, issuance_of, leaf_state
from app.impact.models import ImpactResult
from app.pure.credit_leaves import TONNE_G


def project_out(project: CreditProject) -> ProjectOut:
    return ProjectOut.model_validate(project, from_attributes=True)


def _leaf(session: Session, kind: str, ref_id: int) -> LoggedLeaf:
    state, index = leaf_state(session, kind, ref_id)
    return LoggedLeaf(state="logged" if state == "logged" else "queued", leaf_index=index)


def approval_out(session: Session, approval: MonitoringApproval) -> ApprovalOut:
    return ApprovalOut(
        id=approval.id,
        decision="approved" if approval.decision == "approved" else "rejected",
        verifier=approval.verifier,
        verifier_key_sha256=approval.verifier_key_sha256,
        comment=approval.comment,
        decided_at=approval.decided_at,
        leaf=_leaf(session, APPROVAL, approval.id),
    )


def issuance_out(session: Session, issuance: CreditIssuance) -> IssuanceOut:
    fields = {
        name: getattr(issuance, name) for name in IssuanceOut.model_fields if name not in ("leaf",)
    }
    return IssuanceOut(**fields, leaf=_leaf(session, ISSUANCE, issuance.id))


def report_out(session: Session, report: MonitoringReport) -> MonitoringReportOut:
    approval = approval_of(session, report.id)
    issuance = issuance_of(session, report.id)
    status = (
        "issued"
        if issuance is not None
        else "awaiting_verification"
        if approval is None
        else "approved"
        if approval.decision == "approved"
        else "rejected"
    )
    return MonitoringReportOut(
        id=report.id,
        project_id=report.project_id,
        first_day=report.first_day,
        last_day=report.last_day,
        checkpoint_number=report.checkpoint_number,
        checkpoint_tree_size=report.checkpoint_tree_size,
        reductions_g=report.reductions_g,
        reductions_t=report.reductions_t,
        content_sha256=report.content_sha256,
        status=status,
        leaf=_leaf(session, REPORT, report.id),
        approval=None if approval is None else approval_out(session, approval),
        issuance=None if issuance is None else issuance_out(session, issuance),
        created_at=report.created_at,
    )


def retirement_out(event: CreditEvent) -> RetirementOut:
    details = json.loads(event.details_json)
    assert event.record_id is not None and event.from_address is not None
    return RetirementOut(
        retirement_id=event.record_id,
        account=event.from_address,
        token_id=event.token_id,
        amount_t=event.amount,
        serial_first=details["serial_first"],
        serial_last=details["serial_last"],
        beneficiary=details["beneficiary"],
        purpose=details["purpose"],
        period=details["period"],
        tx_hash=event.tx_hash,
        block_number=event.block_number,
        retired_at=event.block_time,
    )


def _asset_co2_avoided_g(session: Session, asset_id: int) -> int:
    """Sum over the asset's days of the latest revision's CO2 avoided (a correction replaces),
    summed by the database."""
    r = ImpactResult
    mine = (r.asset_id == asset_id, r.period == "day")
    latest = (
        select(r.period_start, func.max(r.revision).label("revision"))
        .where(*mine)
        .group_by(r.period_start)
        .subquery()
    )
    total = session.scalar(
        select(func.coalesce(func.sum(r.co2_avoided_g), 0))
        .join(
            latest,
            (r.period_start == latest.c.period_start) & (r.revision == latest.c.revision),
        )
        .where(*mine)
    )
    return int(total or 0)


def project_credits(session: Session, project: CreditProject) -> ProjectCreditsOut:
    """Issued from the service's issuance records; retired from the indexed events (anyone
    holding credits may retire them on chain)."""
    issuances = list(
        session.scalars(
            select(CreditIssuance)
            .where(CreditIssuance.project_id == project.id)
            .order_by(CreditIssuance.first_day)
        )
    )
    retirements = [
        event
        for chain_id, address, token_id in sorted(
            {(i.chain_id, i.contract_address, i.token_id) for i in issuances}
        )
        for event in holdings.retirements(
            session,
            CreditContract(chain_id=chain_id, contract_address=address),
            token_id=token_id,
        )
    ]
    issued = sum(i.amount_t for i in issuances)
    retired = sum(r.amount for r in retirements)
    co2_g = _asset_co2_avoided_g(session, project.asset_id)
    return ProjectCreditsOut(
        project=project_out(project),
        issued_t=issued,
        retired_t=retired,
        outstanding_t=issued - retired,
        credited_days=sum((i.last_day - i.first_day).days + 1 for i in issuances),
        co2_avoided_g=co2_g,
        credited_co2_g=issued * TONNE_G,
        claimable_co2_g=co2_g - issued * TONNE_G,
        issuances=[issuance_out(session, i) for i in issuances],
        retirements=[retirement_out(r) for r in retirements],
    )

"""The credit workflow's leaves, rebuilt from their rows (monitoring reports, verifier
decisions, issuances). Registered with the ledger's leaf builders on import
(app/credits/__init__.py), since the ledger sits below this domain."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.credits.models import CreditIssuance, CreditProject, MonitoringApproval, MonitoringReport
from app.ledger.sources import register_kind
from app.pure.credit_leaves import CreditApprovalLeaf, CreditIssuanceLeaf, MonitoringReportLeaf

REPORT, APPROVAL, ISSUANCE = "monitoring_report", "credit_approval", "credit_issuance"


def report_leaf(row: MonitoringReport, project: CreditProject) -> MonitoringReportLeaf:
    return MonitoringReportLeaf(
        report_id=row.id,
        project_id=project.id,
        project_code=project.code,
        asset_id=project.asset_id,
        methodology_id=row.methodology_id,
        first_day=row.first_day,
        last_day=row.last_day,
        checkpoint_number=row.checkpoint_number,
        checkpoint_tree_size=row.checkpoint_tree_size,
        content_sha256_hex=row.content_sha256,
        reductions_g=row.reductions_g,
        reductions_t=row.reductions_t,
    )


def approval_leaf(
    row: MonitoringApproval, report: MonitoringReport, project: CreditProject
) -> CreditApprovalLeaf:
    return CreditApprovalLeaf(
        approval_id=row.id,
        report_id=report.id,
        content_sha256_hex=report.content_sha256,
        project_id=project.id,
        asset_id=project.asset_id,
        first_day=report.first_day,
        last_day=report.last_day,
        reductions_t=report.reductions_t,
        decision=row.decision,
        verifier=row.verifier,
        verifier_key_sha256_hex=row.verifier_key_sha256,
        comment=row.comment,
        decided_at=int(row.decided_at.timestamp()),
    )


def issuance_leaf(row: CreditIssuance, report: MonitoringReport) -> CreditIssuanceLeaf:
    return CreditIssuanceLeaf(
        issuance_id=row.id,
        chain_id=row.chain_id,
        contract_address=row.contract_address,
        chain_issuance_id=row.chain_issuance_id,
        token_id=row.token_id,
        project_id=row.project_id,
        asset_id=row.asset_id,
        vintage=row.vintage,
        first_day=row.first_day,
        last_day=row.last_day,
        amount_t=row.amount_t,
        serial_first=row.serial_first,
        serial_last=row.serial_last,
        to_address=row.to_address,
        checkpoint_number=row.checkpoint_number,
        report_id=row.report_id,
        content_sha256_hex=report.content_sha256,
        approval_leaf_hash_hex=row.approval_leaf_hash,
        reductions_g=row.reductions_g,
        tx_hash=row.tx_hash,
        block_number=row.block_number,
    )


def _report_leaves(session: Session, ids: list[int]) -> dict[int, bytes]:
    rows = session.execute(
        select(MonitoringReport, CreditProject)
        .join(CreditProject, CreditProject.id == MonitoringReport.project_id)
        .where(MonitoringReport.id.in_(ids))
    )
    return {report.id: report_leaf(report, project).encode() for report, project in rows}


def _approval_leaves(session: Session, ids: list[int]) -> dict[int, bytes]:
    rows = session.execute(
        select(MonitoringApproval, MonitoringReport, CreditProject)
        .join(MonitoringReport, MonitoringReport.id == MonitoringApproval.report_id)
        .join(CreditProject, CreditProject.id == MonitoringReport.project_id)
        .where(MonitoringApproval.id.in_(ids))
    )
    return {a.id: approval_leaf(a, r, p).encode() for a, r, p in rows}


def _issuance_leaves(session: Session, ids: list[int]) -> dict[int, bytes]:
    rows = session.execute(
        select(CreditIssuance, MonitoringReport)
        .join(MonitoringReport, MonitoringReport.id == CreditIssuance.report_id)
        .where(CreditIssuance.id.in_(ids))
    )
    return {i.id: issuance_leaf(i, r).encode() for i, r in rows}


register_kind(REPORT, _report_leaves)
register_kind(APPROVAL, _approval_leaves)
register_kind(ISSUANCE, _issuance_leaves)

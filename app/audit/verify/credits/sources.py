"""Check 1, ``issuance_sources``: what each issuance leaf rests on, its monitoring report and
that report's one approval, both logged before it and saying the same of the period."""

from collections import defaultdict
from dataclasses import dataclass

from app.audit.verify.credits.log import Log
from app.audit.verify.credits.results import Check, issuance_name, listing, mismatches
from app.pure.credit_leaves import (
    APPROVED,
    CreditApprovalLeaf,
    CreditIssuanceLeaf,
    MonitoringReportLeaf,
)


@dataclass(frozen=True)
class Sources:
    """The report and approval leaves an issuance leaf names (None: not found)."""

    report: tuple[int, MonitoringReportLeaf] | None
    approval: tuple[int, CreditApprovalLeaf, bytes] | None


def check_sources(log: Log) -> tuple[Check, dict[int, Sources]]:
    check = Check("issuance_sources")
    found: dict[int, Sources] = {}
    backed: dict[bytes, list[str]] = defaultdict(list)
    for k, iss in log.issuances:
        name = issuance_name(k, iss)
        problems: list[str] = []
        report = _report_of(log, k, iss, name, problems)
        approval = _approval_of(log, k, iss, report, name, problems)
        if approval is not None:
            backed[approval[2]].append(name)
        found[k] = Sources(report, approval)
        check.problems += problems
        check.figures.append(
            {
                "chain_issuance_id": iss.chain_issuance_id,
                "leaf_index": k,
                "report_id": iss.report_id,
                "report_leaf_index": None if report is None else report[0],
                "approval_leaf_index": None if approval is None else approval[0],
                "verifier": None if approval is None else approval[1].verifier,
            }
        )
    for leaf_hash, names in backed.items():
        if len(names) > 1:
            check.problems.append(
                f"approval leaf {leaf_hash.hex()} backs {len(names)} issuances "
                f"({', '.join(names)}): an approval backs one"
            )
    check.summary = listing(
        f"{len(log.issuances)} issuance leaves, each after its monitoring_report leaf and its "
        "approved credit_approval leaf",
        (
            f"issuance {f['chain_issuance_id']} (leaf {f['leaf_index']}): report "
            f"{f['report_id']} (leaf {f['report_leaf_index']}), approved by {f['verifier']} "
            f"(leaf {f['approval_leaf_index']})"
            for f in check.figures
        ),
    )
    return check, found


def _report_of(
    log: Log, k: int, iss: CreditIssuanceLeaf, name: str, problems: list[str]
) -> tuple[int, MonitoringReportLeaf] | None:
    same_id = [(i, r) for i, r in log.reports if r.report_id == iss.report_id]
    if len(same_id) > 1:
        problems.append(
            f"{name}: report id {iss.report_id} is logged {len(same_id)} times (leaves "
            f"{', '.join(str(i) for i, _ in same_id)})"
        )
    before = [(i, r) for i, r in same_id if i < k]
    if not before:
        problems.append(
            f"{name}: no monitoring_report leaf with report id {iss.report_id} before it"
        )
        return None
    i, report = before[0]
    problems += mismatches(
        name,
        f"its report's (leaf {i}) is",
        (
            ("content_sha256", iss.content_sha256_hex, report.content_sha256_hex),
            ("project_id", iss.project_id, report.project_id),
            ("asset_id", iss.asset_id, report.asset_id),
            ("first_day", iss.first_day, report.first_day),
            ("last_day", iss.last_day, report.last_day),
        ),
    )
    return i, report


def _approval_of(
    log: Log,
    k: int,
    iss: CreditIssuanceLeaf,
    report: tuple[int, MonitoringReportLeaf] | None,
    name: str,
    problems: list[str],
) -> tuple[int, CreditApprovalLeaf, bytes] | None:
    decisions = [a for a in log.approvals if a[1].report_id == iss.report_id]
    if not decisions:
        problems.append(f"{name}: report {iss.report_id} has no credit_approval leaf")
        return None
    if len(decisions) > 1:
        problems.append(
            f"{name}: report {iss.report_id} has {len(decisions)} decisions (leaves "
            f"{', '.join(str(j) for j, _, _ in decisions)}): a decision is final"
        )
    j, approval, leaf_hash = decisions[0]
    where = f"{name}: its approval (leaf {j})"
    if j > k:
        problems.append(f"{where} is logged after it")
    if report is not None and j < report[0]:
        problems.append(f"{where} is logged before the report (leaf {report[0]})")
    if approval.decision != APPROVED:
        problems.append(f"{where} is {approval.decision!r}, not {APPROVED!r}")
    if approval.content_sha256_hex != iss.content_sha256_hex:
        problems.append(
            f"{where} is for content {approval.content_sha256_hex}, the issuance's is "
            f"{iss.content_sha256_hex}"
        )
    if report is not None:
        r = report[1]
        problems += mismatches(
            where,
            "the report's is",
            (
                ("project_id", approval.project_id, r.project_id),
                ("asset_id", approval.asset_id, r.asset_id),
                ("first_day", approval.first_day, r.first_day),
                ("last_day", approval.last_day, r.last_day),
                ("reductions_t", approval.reductions_t, r.reductions_t),
            ),
        )
    if leaf_hash.hex() != iss.approval_leaf_hash_hex.lower():
        problems.append(
            f"{name}: approval_leaf_hash {iss.approval_leaf_hash_hex}, the hash of its "
            f"approval leaf {j} is {leaf_hash.hex()}"
        )
    return j, approval, leaf_hash

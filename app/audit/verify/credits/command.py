"""``verify_credits``: reads the export, runs every check in order and gathers the result."""

from web3 import Web3

from app.audit.verify.checks import Chain
from app.audit.verify.credits.anchoring import (
    anchored_sizes,
    check_approval_inclusion,
    check_export,
    check_report_checkpoints,
)
from app.audit.verify.credits.chain import Checkpoints
from app.audit.verify.credits.chain_issuances import check_chain_issuances
from app.audit.verify.credits.ledger_checks import check_amounts, check_asset_days, check_serials
from app.audit.verify.credits.log import prefix_roots, read_log
from app.audit.verify.credits.reductions import check_reductions
from app.audit.verify.credits.results import CHECKS, CreditsResult
from app.audit.verify.credits.sources import check_sources


def verify_credits(
    export_path: str,
    chain: Chain,
    registry: str,
    *,
    credit_contract: str | None = None,
    expect_chain_id: int | None = None,
) -> CreditsResult:
    """Every check, each reported; UnusableInputError when the export cannot be read or the
    node cannot be reached."""
    registry = Web3.to_checksum_address(registry)
    log = read_log(export_path)
    checkpoints = Checkpoints(chain, registry)

    export = check_export(log, chain, checkpoints, registry, expect_chain_id)
    sources_check, sources = check_sources(log)
    reductions, recomputed = check_reductions(log, sources)
    amounts = check_amounts(log, sources, recomputed)
    asset_days = check_asset_days(log)
    serials = check_serials(log)
    on_chain, not_yet = check_chain_issuances(log, sources, chain, checkpoints, credit_contract)
    roots = prefix_roots(export_path, anchored_sizes(log, checkpoints))
    inclusion = check_approval_inclusion(log, sources, checkpoints, roots)
    report_checkpoints = check_report_checkpoints(log, checkpoints, roots)
    checks = [
        export,
        sources_check,
        reductions,
        amounts,
        asset_days,
        serials,
        on_chain,
        inclusion,
        report_checkpoints,
    ]
    assert tuple(c.name for c in checks) == CHECKS
    cp = log.checkpoint
    return CreditsResult(
        export={
            "path": export_path,
            "checkpoint": cp.number,
            "tree_size": log.size,
            "root": log.root.hex(),
            "chain_id": cp.chain_id,
            "registry": registry,
            "monitoring_reports": len(log.reports),
            "credit_approvals": len(log.approvals),
            "credit_issuances": len(log.issuances),
        },
        checks=checks,
        not_yet_logged=not_yet,
    )

"""The checks against the registry's anchored checkpoints: ``export`` (the export is the
anchored log), ``approval_inclusion`` (each issuance's approval is in the checkpoint it cites)
and ``report_checkpoints`` (each report rests on an anchored prefix of the export)."""

from itertools import chain as chained

from app.audit.verify.checks import Chain, ChainCheckpoint
from app.audit.verify.credits.chain import ChainProblemError, Checkpoints
from app.audit.verify.credits.log import Log
from app.audit.verify.credits.results import Check, issuance_name, listing, report_name
from app.audit.verify.credits.sources import Sources
from app.pure.credit_leaves import day_number

DAY_S = 86_400


def check_export(
    log: Log,
    chain: Chain,
    checkpoints: Checkpoints,
    registry: str,
    expect_chain_id: int | None,
) -> Check:
    check = Check("export")
    check.problems += log.problems
    cp = log.checkpoint
    if log.size != cp.tree_size:
        check.problems.append(
            f"{log.size} leaves, the checkpoint line says tree size {cp.tree_size}"
        )
    if cp.contract != registry:
        check.problems.append(f"the export is registry {cp.contract}'s, you named {registry}")
    if expect_chain_id is not None and cp.chain_id != expect_chain_id:
        check.problems.append(
            f"the export is for chain {cp.chain_id}, you expect {expect_chain_id}"
        )
    actual = chain.chain_id()
    if actual != cp.chain_id:
        check.problems.append(
            f"the export is for chain {cp.chain_id}, the node at {chain.url} is chain {actual}"
        )
    try:
        record = checkpoints.get(cp.number)
    except ChainProblemError as e:
        check.problems.append(str(e))
    else:
        if record.tree_size != log.size:
            check.problems.append(
                f"checkpoint {cp.number} has tree size {record.tree_size}, the export "
                f"{log.size} leaves"
            )
        elif record.root != log.root:
            check.problems.append(
                f"the {log.size} leaves give root {log.root.hex()}, checkpoint {cp.number} on "
                f"chain {actual} holds {record.root.hex()}"
            )
    check.summary = (
        f"{log.size} leaves, root {log.root.hex()}: checkpoint {cp.number} of {registry} on "
        f"chain {actual}"
    )
    check.figures.append(
        {"checkpoint": cp.number, "tree_size": log.size, "root": log.root.hex(), "chain_id": actual}
    )
    return check


def anchored_sizes(log: Log, checkpoints: Checkpoints) -> set[int]:
    """The tree sizes whose export roots the last checks compare with the chain."""
    sizes = {r.checkpoint_tree_size for _, r in log.reports}
    cited = chained(
        (iss.checkpoint_number for _, iss in log.issuances),
        (report.checkpoint_number for _, report in log.reports),
    )
    for number in cited:
        try:
            sizes.add(checkpoints.get(number).tree_size)
        except ChainProblemError:
            continue  # reported by the check
    return {s for s in sizes if 0 <= s <= log.size}


def _checkpoint(
    checkpoints: Checkpoints, number: int, name: str, check: Check
) -> ChainCheckpoint | None:
    """Checkpoint ``number``; None, with the problem in ``check``, when the registry has none."""
    try:
        return checkpoints.get(number)
    except ChainProblemError as e:
        check.problems.append(f"{name}: {e}")
        return None


def _compare_root(
    check: Check, name: str, number: int, record: ChainCheckpoint, roots: dict[int, bytes]
) -> None:
    """The root of the export's first tree-size leaves against the one the checkpoint holds."""
    size = record.tree_size
    if roots[size] != record.root:
        check.problems.append(
            f"{name}: the export's first {size} leaves give root {roots[size].hex()}, "
            f"checkpoint {number} holds {record.root.hex()}"
        )


def check_approval_inclusion(
    log: Log, sources: dict[int, Sources], checkpoints: Checkpoints, roots: dict[int, bytes]
) -> Check:
    """The export holds the whole log prefix, so the inclusion is recomputed from the leaves
    themselves: the approval leaf is leaf j < tree size of the cited checkpoint, and the root of
    the export's first tree-size leaves is the root the registry holds (what an inclusion proof
    shows, with the whole tree in place of the proof's O(log n) hashes). The checkpoint also
    closes after the period's last day, as the contract requires."""
    check = Check("approval_inclusion")
    for k, iss in log.issuances:
        name = issuance_name(k, iss)
        approval = sources[k].approval
        if approval is None:
            check.problems.append(f"{name}: no approval leaf to find in its checkpoint")
            continue
        j, _, leaf_hash = approval
        number = iss.checkpoint_number
        record = _checkpoint(checkpoints, number, name, check)
        if record is None:
            continue
        size = record.tree_size
        period_end_s = (day_number(iss.last_day) + 1) * DAY_S
        if record.closes_at < period_end_s:
            # The contract refuses such an issuance: credits rest on data anchored after the
            # period is over.
            check.problems.append(
                f"{name}: checkpoint {number} closes at {record.closes_at}, before its period "
                f"ends ({period_end_s}, the end of {iss.last_day.isoformat()})"
            )
        if size > log.size:
            check.problems.append(
                f"{name}: checkpoint {number} has {size} leaves, the export only {log.size}"
            )
            continue
        if j >= size:
            check.problems.append(
                f"{name}: its approval is leaf {j}, not among the {size} leaves of checkpoint "
                f"{number}"
            )
        _compare_root(check, name, number, record, roots)
        check.figures.append(
            {
                "chain_issuance_id": iss.chain_issuance_id,
                "approval_leaf_index": j,
                "approval_leaf_hash": leaf_hash.hex(),
                "checkpoint": number,
                "tree_size": size,
                "root": record.root.hex(),
            }
        )
    check.summary = listing(
        f"{len(check.figures)} approval leaves in the checkpoints their issuances cite",
        (
            f"issuance {f['chain_issuance_id']}: leaf {f['approval_leaf_index']} of the "
            f"{f['tree_size']} of checkpoint {f['checkpoint']}"
            for f in check.figures
        ),
    )
    return check


def check_report_checkpoints(log: Log, checkpoints: Checkpoints, roots: dict[int, bytes]) -> Check:
    check = Check("report_checkpoints")
    for i, report in log.reports:
        name = report_name(i, report)
        number, size = report.checkpoint_number, report.checkpoint_tree_size
        record = _checkpoint(checkpoints, number, name, check)
        if record is None:
            continue
        if record.tree_size != size:
            check.problems.append(
                f"{name}: rests on {size} leaves, checkpoint {number} has tree size "
                f"{record.tree_size}"
            )
            continue
        if size > log.size:
            check.problems.append(f"{name}: rests on {size} leaves, the export has {log.size}")
            continue
        _compare_root(check, name, number, record, roots)
        check.figures.append(
            {"report_id": report.report_id, "checkpoint": number, "tree_size": size}
        )
    check.summary = listing(
        f"{len(log.reports)} reports rest on anchored checkpoints",
        (
            f"report {f['report_id']}: the {f['tree_size']} leaves of checkpoint "
            f"{f['checkpoint']}"
            for f in check.figures
        ),
    )
    return check

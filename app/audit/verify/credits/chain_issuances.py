"""Check 6, ``chain_issuances``: the CarbonCredit contract's issuances against the export's
issuance leaves, both ways; one mined after the export's checkpoint was anchored is listed as
not yet logged, not a failure."""

from collections import defaultdict
from typing import Any

from web3 import Web3

from app.audit.verify.checks import Chain
from app.audit.verify.credits.chain import (
    ChainIssuance,
    ChainProblemError,
    Checkpoints,
    CreditContract,
)
from app.audit.verify.credits.log import Log
from app.audit.verify.credits.results import Check, issuance_name, mismatches, period_text
from app.audit.verify.credits.sources import Sources
from app.pure.credit_leaves import CreditIssuanceLeaf


def _credit_address(log: Log, given: str | None, check: Check) -> str | None:
    """The CarbonCredit address: the one given, else the one the issuance leaves name (each
    leaf naming another is a problem)."""
    named = {
        Web3.to_checksum_address(iss.contract_address)
        for _, iss in log.issuances
        if Web3.is_address(iss.contract_address)
    }
    for k, iss in log.issuances:
        if not Web3.is_address(iss.contract_address):
            check.problems.append(
                f"{issuance_name(k, iss)}: contract_address {iss.contract_address!r} is not an "
                "address"
            )
    if given is not None:
        address = Web3.to_checksum_address(given)
        for other in sorted(named - {address}):
            check.problems.append(f"issuance leaves name CarbonCredit {other}, you named {address}")
        return address
    if len(named) > 1:
        check.problems.append(
            f"the issuance leaves name {len(named)} CarbonCredit contracts: {sorted(named)}"
        )
    return min(named) if named else None


def _compare(
    name: str, leaf: CreditIssuanceLeaf, on_chain: ChainIssuance, approval_hash: bytes | None
) -> list[str]:
    problems = mismatches(
        name,
        f"getIssuance({on_chain.issuance_id}) has",
        (
            ("project_id", leaf.project_id, on_chain.project_id),
            ("vintage", leaf.vintage, on_chain.vintage),
            ("to_address", leaf.to_address.lower(), on_chain.to.lower()),
            ("amount_t", leaf.amount_t, on_chain.amount),
            ("serial_first", leaf.serial_first, on_chain.serial_first),
            ("serial_last", leaf.serial_last, on_chain.serial_last),
            ("first_day", leaf.first_day, on_chain.first_day),
            ("last_day", leaf.last_day, on_chain.last_day),
            ("checkpoint_number", leaf.checkpoint_number, on_chain.checkpoint),
            (
                "content_sha256 (reportHash)",
                leaf.content_sha256_hex.lower(),
                on_chain.report_hash.hex(),
            ),
            (
                "approval_leaf_hash",
                leaf.approval_leaf_hash_hex.lower(),
                on_chain.approval_leaf_hash.hex(),
            ),
        ),
    )
    if approval_hash is not None and approval_hash != on_chain.approval_leaf_hash:
        problems.append(
            f"{name}: getIssuance({on_chain.issuance_id}) cites approval leaf hash "
            f"{on_chain.approval_leaf_hash.hex()}, the export's approval leaf hashes to "
            f"{approval_hash.hex()}"
        )
    return problems


def _credited(on_chain: ChainIssuance) -> dict[str, Any]:
    """The figures of an on-chain issuance that both the logged and the unlogged ones show."""
    return {
        "amount": on_chain.amount,
        "serials": f"{on_chain.serial_first}-{on_chain.serial_last}",
        "period": period_text(on_chain.first_day, on_chain.last_day),
        "checkpoint": on_chain.checkpoint,
    }


def check_chain_issuances(
    log: Log,
    sources: dict[int, Sources],
    chain: Chain,
    checkpoints: Checkpoints,
    given: str | None,
) -> tuple[Check, list[dict[str, Any]]]:
    check = Check("chain_issuances")
    address = _credit_address(log, given, check)
    if address is None:
        check.skipped = (
            "no issuance leaf names a CarbonCredit contract and --credit-contract was not "
            "given: no on-chain issuance to compare"
        )
        return check, []
    chain_id = chain.chain_id()
    for k, iss in log.issuances:
        if iss.chain_id != chain_id:
            check.problems.append(
                f"{issuance_name(k, iss)}: chain_id {iss.chain_id}, the node at {chain.url} is "
                f"chain {chain_id}"
            )
    credit = CreditContract(chain, address)
    try:
        if not credit.has_code():
            check.problems.append(f"there is no contract at {address} on chain {chain_id}")
            return check, []
        linked = credit.registry()
        if linked.lower() != checkpoints.registry.lower():
            check.problems.append(
                f"CarbonCredit {address} issues against registry {linked}, not "
                f"{checkpoints.registry}"
            )
        count = credit.count()
        not_yet = _compare_issuances(log, sources, credit, count, checkpoints, check)
    except ChainProblemError as e:
        check.problems.append(str(e))
        return check, []
    logged = len({iss.chain_issuance_id for _, iss in log.issuances})
    check.summary = (
        f"CarbonCredit {address} on chain {chain_id}: {count} issuances on chain, {logged} "
        f"logged and equal to their leaves, {len(not_yet)} mined after the export's checkpoint "
        "(not yet logged)"
    )
    return check, not_yet


def _compare_issuances(
    log: Log,
    sources: dict[int, Sources],
    credit: CreditContract,
    count: int,
    checkpoints: Checkpoints,
    check: Check,
) -> list[dict[str, Any]]:
    """Each leaf against ``getIssuance``; then the on-chain issuances without a leaf. Returns
    those mined after the export's checkpoint was anchored (not yet logged)."""
    by_id: dict[int, list[int]] = defaultdict(list)
    for k, iss in log.issuances:
        by_id[iss.chain_issuance_id].append(k)
        name = issuance_name(k, iss)
        if not 0 <= iss.chain_issuance_id < count:
            check.problems.append(f"{name}: the contract holds {count} issuances, not this one")
            continue
        on_chain = credit.issuance(iss.chain_issuance_id)
        approval = sources[k].approval
        check.problems += _compare(name, iss, on_chain, None if approval is None else approval[2])
        expected_token = credit.token_id_of(on_chain.project_id, on_chain.vintage)
        if expected_token != iss.token_id:
            check.problems.append(
                f"{name}: token_id {iss.token_id}, tokenIdOf({on_chain.project_id}, "
                f"{on_chain.vintage}) on chain is {expected_token}"
            )
        mined = credit.issued_in(iss.tx_hash)
        if isinstance(mined, str):
            check.problems.append(f"{name}: {mined}")
        elif mined != (iss.block_number, [iss.chain_issuance_id]):
            check.problems.append(
                f"{name}: transaction {iss.tx_hash} was mined in block {mined[0]} and issued "
                f"{mined[1]}; the leaf says block {iss.block_number}, issuance "
                f"{iss.chain_issuance_id}"
            )
        check.figures.append(
            {
                "chain_issuance_id": iss.chain_issuance_id,
                "leaf_index": k,
                **_credited(on_chain),
                "block_number": iss.block_number,
            }
        )
    for issuance_id, leaves in sorted(by_id.items()):
        if len(leaves) > 1:
            check.problems.append(
                f"on-chain issuance {issuance_id} has {len(leaves)} leaves "
                f"({', '.join(str(k) for k in leaves)})"
            )
    missing = [i for i in range(count) if i not in by_id]
    if not missing:
        return []
    number = log.checkpoint.number
    anchored = checkpoints.anchoring(number)
    positions = credit.issued_positions(0 if anchored is None else anchored[0])
    not_yet = []
    for issuance_id in missing:
        on_chain = credit.issuance(issuance_id)
        position = positions.get(issuance_id)
        figures = {
            "chain_issuance_id": issuance_id,
            "block_number": None if position is None else position[0],
            "project_id": on_chain.project_id,
            **_credited(on_chain),
        }
        if anchored is not None and position is not None and position > anchored:
            not_yet.append(figures)
            check.notes.append(
                f"on-chain issuance {issuance_id} (block {position[0]}) was mined after "
                f"checkpoint {number} was anchored (block {anchored[0]}): not yet logged"
            )
            continue
        when = (
            f"no CheckpointAdded event of checkpoint {number} was found"
            if anchored is None
            else f"it was mined before checkpoint {number} was anchored (block {anchored[0]})"
        )
        check.problems.append(
            f"on-chain issuance {issuance_id} ({on_chain.amount} t, serials "
            f"{figures['serials']}, {figures['period']}) has no credit_issuance leaf in the "
            f"export, and {when}"
        )
    return not_yet

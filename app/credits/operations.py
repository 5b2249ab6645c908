"""The issuer's credit transactions (docs/credits.md): deploying this chain's CarbonCredit
contract, issuing an approved monitoring report's credits, transferring and retiring credits
the issuer's account holds. They go through the issuer account's transaction record
(app/bonds/issuer_txs.py: recorded before sending, settled after a crash, at most once per
idempotency key) and their effects are recorded when they are mined (``_mined``).

Before signing, an issuance is checked here with clear errors (approved, anchored, not
credited yet, at most the report's whole tonnes); the contract checks the same again, so a
second service or a stale request cannot slip past.
"""

import json
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from app.bonds.issuer_txs import (
    IssuerChain,
    Sent,
    await_settled,
    find,
    on_confirmed,
    once,
    open_ones,
    reconcile,
    register_effect,
    signer,
    submit,
    transaction_failed,
)
from app.bonds.models import ISSUER_TX_OPEN, IssuerTx
from app.core.db import utcnow
from app.core.errors import ApiError, FieldError, unprocessable
from app.credits import events
from app.credits.contract import IssueRequest, carbon_credit, constructor_call
from app.credits.leaves import APPROVAL, ISSUANCE
from app.credits.models import (
    CreditBlock,
    CreditContract,
    CreditIndexCursor,
    CreditIssuance,
    MonitoringReport,
)
from app.credits.schemas import IssueIn, RetireIn, TransferIn
from app.credits.service import (
    approval_of,
    credited_overlap,
    get_project,
    get_report,
    period_already_credited,
)
from app.ledger import checkpoints, log
from app.ledger.anchor import registry_address
from app.ledger.chain import ChainClient
from app.outbox.service import enqueue

DEPLOY, ISSUE, TRANSFER, RETIRE = (
    "credit_deploy",
    "credit_issue",
    "credit_transfer",
    "credit_retire",
)
KEY = "Idempotency-Key"


# --- the contract -----------------------------------------------------------------------------


def contract_row(session: Session, chain_id: int) -> CreditContract | None:
    return session.get(CreditContract, chain_id)


def _contract(session: Session, client: ChainClient, chain: IssuerChain) -> str | IssuerTx:
    """This chain's CarbonCredit address, deployed on first need (pointing at the chain's
    ImpactRegistry); or its deployment transaction while that is on its way."""
    row = contract_row(session, client.chain_id)
    if row is not None and client.has_code(row.contract_address):
        return row.contract_address
    tx = next((t for t in open_ones(session) if t.operation == DEPLOY), None)
    if tx is None:
        registry = registry_address(session, client, chain.registry_policy)
        tx = submit(
            session,
            client,
            constructor_call(client.w3, client.w3.to_checksum_address(registry), ""),
            bond_id=None,
            operation=DEPLOY,
            request={"registry_address": registry},
        )
    tx = await_settled(session, client, tx, chain.wait_s, on_confirmed)
    if tx.status in ISSUER_TX_OPEN:
        return tx
    row = contract_row(session, client.chain_id)
    if tx.status != "confirmed" or row is None:
        raise transaction_failed(tx)
    return row.contract_address


def deploy(session: Session, chain: IssuerChain) -> tuple[CreditContract | None, IssuerTx | None]:
    """(the contract, None) once deployed; (None, its transaction) while on its way."""
    with signer(chain, session) as client:
        reconcile(session, client, on_confirmed)
        found = _contract(session, client, chain)
        if isinstance(found, IssuerTx):
            return None, found
        return contract_row(session, client.chain_id), None


def _contract_needed(session: Session, client: ChainClient, chain: IssuerChain) -> str:
    found = _contract(session, client, chain)
    if isinstance(found, IssuerTx):
        raise ApiError(
            503,
            "contract_deploying",
            f"the CarbonCredit contract is being deployed (transaction {found.tx_hash}): send "
            "the request again in a few seconds",
            headers={"Retry-After": "5"},
        )
    return found


# --- issuance ---------------------------------------------------------------------------------


def _approval_anchored(session: Session, report: MonitoringReport) -> dict[str, Any]:
    """What the contract needs to see that the report's approval is in an anchored
    checkpoint: the checkpoint, the approval's leaf hash, index and inclusion proof."""
    approval = approval_of(session, report.id)
    if approval is None or approval.decision != "approved":
        reason = "is not decided yet" if approval is None else f"was {approval.decision}"
        raise ApiError(
            409,
            "not_approved",
            f"monitoring report {report.id} {reason}: credits are issued only from a report "
            "a verifier approved",
            [FieldError("report_id", "not approved by a verifier")],
        )
    index = log.leaf_index_of(session, APPROVAL, approval.id)
    cp = None if index is None else checkpoints.latest_covering(session, index)
    if index is None or cp is None or cp.number is None:
        raise ApiError(
            409,
            "approval_not_anchored",
            f"the approval of monitoring report {report.id} is not in a confirmed checkpoint "
            "yet: issue after the next checkpoint is anchored",
            [FieldError("report_id", "approval not anchored yet")],
        )
    return {
        "checkpoint": cp.number,
        "approval_leaf_hash": log.NodeReader(session)(0, index).hex(),  # level 0: leaf hashes
        "approval_leaf_index": index,
        "approval_proof": [p.hex() for p in log.inclusion_proof(session, index, cp.tree_size)],
    }


def _amount(report: MonitoringReport, body: IssueIn) -> int:
    if report.reductions_t < 1:
        raise ApiError(
            409,
            "no_reductions",
            f"monitoring report {report.id} shows {report.reductions_g} g of reductions: less "
            "than a whole tonne, nothing to issue",
            [FieldError("amount_t", "the report has no whole tonne of reductions")],
        )
    amount = report.reductions_t if body.amount_t is None else body.amount_t
    if amount > report.reductions_t:
        raise unprocessable(
            [
                FieldError(
                    "amount_t",
                    f"{amount} t exceeds the report's verified reductions of "
                    f"{report.reductions_t} t (rounded down from {report.reductions_g} g)",
                )
            ]
        )
    return amount


def issue(session: Session, chain: IssuerChain, report_id: int, body: IssueIn) -> Sent:
    """Issues the approved report's credits (all its whole tonnes unless fewer are asked
    for), at most once per report: a retry returns the first issuance's transaction."""
    report = get_report(session, report_id)
    project = get_project(session, report.project_id)
    op_key = f"report-{report.id}"
    earlier = find(session, None, ISSUE, op_key)
    if earlier is not None and earlier.status == "confirmed":  # a retry: no proof to rebuild
        return Sent(earlier, replayed=True)
    if earlier is None or earlier.status not in ("confirmed", *ISSUER_TX_OPEN):
        overlap = credited_overlap(session, project.id, report.first_day, report.last_day)
        if overlap is not None:
            raise period_already_credited(overlap)
        if report.first_day.year != report.last_day.year:
            raise unprocessable(
                [
                    FieldError(
                        "report_id",
                        "the monitoring period spans two calendar years: a credit has one "
                        "vintage, build one report per year",
                    )
                ]
            )
    amount = _amount(report, body)
    anchored = _approval_anchored(session, report)
    request = {
        "report_id": report.id,
        "project_id": project.id,
        "vintage": report.first_day.year,
        "amount_t": amount,
        "first_day": report.first_day.isoformat(),
        "last_day": report.last_day.isoformat(),
        "report_sha256": report.content_sha256,
        "to_address": body.to_address,
        **anchored,
    }

    def build(client: ChainClient) -> ContractFunction:
        address = _contract_needed(session, client, chain)
        contract = carbon_credit(client.w3, client.w3.to_checksum_address(address))
        token_id = contract.functions.tokenIdOf(project.id, report.first_day.year).call()
        call = IssueRequest(
            project_id=project.id,
            vintage=report.first_day.year,
            to=client.w3.to_checksum_address(body.to_address or client.account.address),
            amount=amount,
            serial_first=int(contract.functions.nextSerial(token_id).call()),
            period_first_day=report.first_day,
            period_last_day=report.last_day,
            checkpoint=anchored["checkpoint"],
            report_hash=bytes.fromhex(report.content_sha256),
            approval_leaf_hash=bytes.fromhex(anchored["approval_leaf_hash"]),
            approval_leaf_index=anchored["approval_leaf_index"],
            approval_proof=tuple(bytes.fromhex(p) for p in anchored["approval_proof"]),
        )
        return contract.functions.issue(call.as_tuple())

    return once(
        session, chain, bond_id=None, operation=ISSUE, op_key=op_key, request=request, build=build
    )


# --- transfers and retirements of the issuer's credits ----------------------------------------


def transfer(session: Session, chain: IssuerChain, body: TransferIn, key: str) -> Sent:
    """``safeTransferFrom`` of credits the issuer's account holds."""
    _issued_token(session, body.token_id)
    request = {"token_id": body.token_id, "to_address": body.to_address, "amount_t": body.amount_t}

    def build(client: ChainClient) -> ContractFunction:
        contract = _issuer_credit_contract(session, client, chain)
        return contract.functions.safeTransferFrom(
            client.account.address,
            client.w3.to_checksum_address(body.to_address),
            body.token_id,
            body.amount_t,
            b"",
        )

    return once(
        session,
        chain,
        bond_id=None,
        operation=TRANSFER,
        op_key=key,
        request=request,
        build=build,
        key_name=KEY,
    )


def retire(session: Session, chain: IssuerChain, body: RetireIn, key: str) -> Sent:
    """``retire``: credits of the issuer's account leave circulation for a beneficiary."""
    _issued_token(session, body.token_id)
    request = body.model_dump()

    def build(client: ChainClient) -> ContractFunction:
        contract = _issuer_credit_contract(session, client, chain)
        return contract.functions.retire(
            body.token_id, body.amount_t, body.beneficiary, body.purpose, body.period
        )

    return once(
        session,
        chain,
        bond_id=None,
        operation=RETIRE,
        op_key=key,
        request=request,
        build=build,
        key_name=KEY,
    )


def _issued_token(session: Session, token_id: int) -> None:
    """Checked before the chain is asked: credits of this token id were issued here."""
    issued = session.scalar(
        select(CreditIssuance.id).where(CreditIssuance.token_id == token_id).limit(1)
    )
    if issued is None:
        raise ApiError(
            404,
            "not_found",
            f"no credits were issued under token id {token_id}",
            [FieldError("token_id", "no issuance of this token id")],
        )


def _issuer_credit_contract(session: Session, client: ChainClient, chain: IssuerChain) -> Contract:
    row = contract_row(session, client.chain_id)
    if row is None or not client.has_code(row.contract_address):
        raise ApiError(
            409,
            "no_credit_contract",
            "no CarbonCredit contract on this chain yet: it is deployed with the first issuance "
            "(or POST /v1/admin/credits/contract)",
        )
    return carbon_credit(client.w3, client.w3.to_checksum_address(row.contract_address))


# --- effects of mined transactions ------------------------------------------------------------


def _mined(session: Session, tx: IssuerTx, receipt: TxReceipt) -> None:
    """A deployment records the contract, an issuance its ``credit_issuance`` row and leaf
    (from the receipt's ``CreditIssued`` event). Transfers and retirements change the chain
    only: the credit indexer reads their events."""
    if tx.operation == DEPLOY:
        address = receipt["contractAddress"]
        if address is None:
            return
        row = session.get(CreditContract, tx.chain_id)
        if row is None:
            row = CreditContract(chain_id=tx.chain_id)
            session.add(row)
        else:  # the chain was reset: index the new contract from its deployment
            session.execute(
                delete(CreditIndexCursor).where(CreditIndexCursor.chain_id == tx.chain_id)
            )
            session.execute(delete(CreditBlock).where(CreditBlock.chain_id == tx.chain_id))
        row.contract_address = address
        row.registry_address = _request(tx)["registry_address"]
        row.deploy_tx_hash, row.deployed_block = tx.tx_hash, int(receipt["blockNumber"])
        row.created_at = utcnow()
        return
    if tx.operation == ISSUE:
        _record_issuance(session, tx, receipt)


def _record_issuance(session: Session, tx: IssuerTx, receipt: TxReceipt) -> None:
    issued = events.issued_in(receipt)
    request = _request(tx)
    report = session.get(MonitoringReport, request["report_id"])
    assert report is not None
    project = get_project(session, report.project_id)
    issuance = CreditIssuance(
        report_id=report.id,
        project_id=project.id,
        asset_id=project.asset_id,
        chain_id=tx.chain_id,
        contract_address=issued.contract_address,
        chain_issuance_id=issued.issuance_id,
        token_id=issued.token_id,
        vintage=issued.vintage,
        first_day=report.first_day,
        last_day=report.last_day,
        amount_t=issued.amount,
        serial_first=issued.serial_first,
        serial_last=issued.serial_last,
        to_address=issued.to_address,
        checkpoint_number=issued.checkpoint,
        approval_leaf_hash=issued.approval_leaf_hash_hex,
        reductions_g=report.reductions_g,
        tx_hash=tx.tx_hash,
        block_number=int(receipt["blockNumber"]),
        recorded_at=utcnow(),
    )
    session.add(issuance)
    session.flush()
    enqueue(session, ISSUANCE, [issuance.id])


def _request(tx: IssuerTx) -> dict[str, Any]:
    request: dict[str, Any] = json.loads(tx.request_json)
    return request


register_effect((DEPLOY, ISSUE, TRANSFER, RETIRE), _mined)

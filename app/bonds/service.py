"""A bond's token: its deployment (with the PersonalInfo register its holders use), the token's
details read back from the chain, and the effects of the issuer's confirmed transactions on the
service's tables.

Deployment is idempotent per bond: the same terms again return the deployed token (200), other
terms are a 409 naming the fields. It is crash safe the way anchoring is: the deploying
transaction is recorded, signed, before it is sent (app/bonds/issuer_txs.py); its contract's
address is known then (the signer's address and nonce), and the ``bond_token`` row (with its
``bond_token`` leaf queued for the log) is written in the database transaction that records the
transaction as mined. A request that finds a deployment on its way waits for it instead of
signing a second one.
"""

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from web3.exceptions import Web3Exception
from web3.types import TxReceipt

from app.bonds.contracts import (
    constructor,
    green_bond_token,
    token_constructor_args,
)
from app.bonds.issuer_txs import (
    IssuerChain,
    await_settled,
    chain_unavailable,
    connect,
    find,
    on_confirmed,
    open_ones,
    reconcile,
    register_effect,
    signer,
    submit,
    transaction_failed,
)
from app.bonds.leaves import DEPLOY, KIND, deployment_tx, terms_json, terms_of
from app.bonds.models import ISSUER_TX_OPEN, BondToken, IssuerTx, PersonalInfoContract
from app.bonds.schemas import (
    IssuerTxOut,
    TokenDeploy,
    TokenOnChain,
    TokenOut,
    TokenTerms,
    TransferApplicationOut,
    TransferApplicationsOut,
)
from app.core.db import utcnow
from app.core.errors import ApiError, FieldError, unprocessable
from app.core.pagination import Rows, keyset_page
from app.ledger.anchor import registry_address
from app.ledger.chain import ChainClient, ChainError
from app.outbox.service import enqueue
from app.pure.artifact import GREEN_BOND_TOKEN, PERSONAL_INFO
from app.registry import service as registry
from app.registry.models import Bond

DEPLOY_KEY = "deploy"
PERSONAL_INFO_OP = "deploy_personal_info"


def tx_out(tx: IssuerTx) -> IssuerTxOut:
    return IssuerTxOut(
        id=tx.id,
        bond_id=tx.bond_id,
        operation=tx.operation,
        idempotency_key=tx.op_key,
        request=json.loads(tx.request_json),
        status=tx.status,
        chain_id=tx.chain_id,
        nonce=tx.nonce,
        tx_hash=tx.tx_hash,
        contract_address=tx.contract_address,
        block_number=tx.block_number,
        error=tx.error,
        created_at=tx.created_at,
        settled_at=tx.settled_at,
    )


# --- effects of confirmed transactions ------------------------------------------------------


def _deployed(session: Session, tx: IssuerTx, receipt: TxReceipt) -> None:
    """Deployments are recorded (a token's with its log leaf); the bond's other operations live
    on chain only (the indexer reads their events)."""
    address = receipt["contractAddress"]
    now = utcnow()
    if tx.operation == PERSONAL_INFO_OP and address is not None:
        row = session.get(PersonalInfoContract, tx.chain_id)
        if row is None:
            row = PersonalInfoContract(chain_id=tx.chain_id)
            session.add(row)
        # (again after a chain reset: the old register is gone, the new one replaces it)
        row.contract_address, row.deploy_tx_hash = address, tx.tx_hash
        row.deployed_block, row.created_at = int(receipt["blockNumber"]), now
    elif tx.operation == DEPLOY and address is not None and tx.bond_id is not None:
        request = json.loads(tx.request_json)
        token = BondToken(
            bond_id=tx.bond_id,
            chain_id=tx.chain_id,
            contract_address=address,
            personal_info_address=request["personal_info_address"],
            impact_registry_address=request["impact_registry_address"],
            issuer_address=receipt["from"],
            deploy_tx_hash=tx.tx_hash,
            deployed_block=int(receipt["blockNumber"]),
            created_at=now,
        )
        session.add(token)
        session.flush()
        enqueue(session, KIND, [token.id])


register_effect((PERSONAL_INFO_OP, DEPLOY), _deployed)


# --- reads ----------------------------------------------------------------------------------


def token_of_bond(session: Session, bond_id: int) -> BondToken | None:
    return session.scalar(select(BondToken).where(BondToken.bond_id == bond_id))


def deployed_token(session: Session, bond_id: int) -> BondToken:
    """The bond's token; 404 when the bond does not exist or has no token yet."""
    registry.get_bond(session, bond_id)
    token = token_of_bond(session, bond_id)
    if token is None:
        raise ApiError(
            404,
            "not_found",
            f"bond {bond_id} has no token: deploy it first (POST /v1/admin/bonds/{bond_id}/token)",
        )
    return token


def transactions(session: Session, bond_id: int, limit: int, cursor: str | None) -> Rows[IssuerTx]:
    registry.get_bond(session, bond_id)
    query = select(IssuerTx).where(IssuerTx.bond_id == bond_id)
    return keyset_page(session, query, IssuerTx.id, limit, cursor)


def deployment_request(session: Session, token: BondToken) -> dict[str, Any]:
    tx = deployment_tx(session, token)
    assert tx is not None, f"bond_token {token.id} has no deployment transaction"
    request: dict[str, Any] = json.loads(tx.request_json)
    return request


def read_state(client: ChainClient, token: BondToken) -> TokenOnChain:
    """The token's state as the contract holds it, every value at one block."""
    if client.chain_id != token.chain_id:
        raise ChainError(f"the node is chain {client.chain_id}, the token is on {token.chain_id}")
    if not client.has_code(token.contract_address):
        raise ChainError(
            f"no contract at {token.contract_address} on chain {token.chain_id} (was the chain "
            "reset?)"
        )
    block = client.block_number()
    f = green_bond_token(client.w3, client.w3.to_checksum_address(token.contract_address)).functions
    return TokenOnChain(
        block_number=block,
        total_supply=f.totalSupply().call(block_identifier=block),
        transferable=f.transferable().call(block_identifier=block),
        transfer_approval_required=f.transferApprovalRequired().call(block_identifier=block),
        is_redeemed=f.isRedeemed().call(block_identifier=block),
        application_count=f.applicationCount().call(block_identifier=block),
    )


def token_view(
    session: Session, chain: IssuerChain, token: BondToken, client: ChainClient | None = None
) -> TokenOut:
    """The token's details; its state read from the chain (``client``, or a new connection),
    or the reason it cannot be."""
    request = deployment_request(session, token)
    on_chain, chain_error = None, None
    try:
        on_chain = read_state(client or connect(chain), token)
    except ApiError as exc:  # no chain configured, or unreachable
        chain_error = exc.message
    except (ChainError, OSError, Web3Exception) as exc:
        chain_error = f"the token cannot be read from the chain: {exc}"
    return TokenOut(
        id=token.id,
        bond_id=token.bond_id,
        chain_id=token.chain_id,
        contract_address=token.contract_address,
        personal_info_address=token.personal_info_address,
        impact_registry_address=token.impact_registry_address,
        issuer_address=token.issuer_address,
        deploy_tx_hash=token.deploy_tx_hash,
        deployed_block=token.deployed_block,
        created_at=token.created_at,
        terms=TokenTerms.model_validate(request["terms"]),
        initial_supply=request["initial_supply"],
        on_chain=on_chain,
        chain_error=chain_error,
        open_transactions=[tx_out(tx) for tx in open_ones(session, token.bond_id)],
    )


def transfer_applications(
    session: Session, chain: IssuerChain, bond_id: int, start: int, limit: int
) -> TransferApplicationsOut:
    """Applications ``start`` .. ``start + limit - 1`` as the contract holds them (one block)."""
    token = deployed_token(session, bond_id)
    client = connect(chain)
    try:
        address = client.w3.to_checksum_address(token.contract_address)
        f = green_bond_token(client.w3, address).functions
        block = client.block_number()
        count = int(f.applicationCount().call(block_identifier=block))
        items = []
        for index in range(start, min(count, start + limit)):
            applicant, recipient, amount, valid = f.applicationsForTransfer(index).call(
                block_identifier=block
            )
            items.append(
                TransferApplicationOut(
                    index=index,
                    applicant=applicant,
                    recipient=recipient,
                    amount=amount,
                    pending=valid,
                )
            )
    except (ChainError, OSError, Web3Exception) as exc:
        raise chain_unavailable(exc) from exc
    return TransferApplicationsOut(block_number=block, application_count=count, items=items)


# --- deployment -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Deployment:
    """A deploy request's outcome: the token (``created`` by this request or not), or the
    transaction still on its way (``pending``: the client asks again later)."""

    token: TokenOut | None
    created: bool
    pending: IssuerTx | None = None


def check_terms(bond: Bond, body: TokenDeploy) -> None:
    """The terms must fit the bond as registered (422 naming every field that does not)."""
    errors = []
    if body.currency != bond.currency:
        errors.append(FieldError("currency", f"must be the bond's currency {bond.currency}"))
    if body.redemption_date != bond.maturity_date:
        errors.append(
            FieldError("redemption_date", f"must be the bond's maturity date {bond.maturity_date}")
        )
    previous = None
    for i, day in enumerate(body.interest_payment_dates):
        reason = None
        if day <= bond.issue_date:
            reason = f"{day} is not after the bond's issue date {bond.issue_date}"
        elif previous is not None and day <= previous:
            reason = f"{day} is not after the previous payment date {previous}"
        elif day > body.redemption_date:
            reason = f"{day} is after the redemption date {body.redemption_date}"
        if reason is not None:
            errors.append(FieldError(f"interest_payment_dates[{i}]", reason, i))
        previous = day
    principal = Decimal(body.face_value) * body.initial_supply
    if principal > bond.amount_issued:
        errors.append(
            FieldError(
                "initial_supply",
                f"{body.initial_supply} units x face value {body.face_value} = {principal} "
                f"{bond.currency}, above the bond's amount issued {bond.amount_issued}",
            )
        )
    if errors:
        raise unprocessable(errors)


def _wanted(body: TokenDeploy) -> dict[str, Any]:
    return {**terms_json(body.to_terms()), "initial_supply": body.initial_supply}


def _same_or_conflict(bond_id: int, request: dict[str, Any], wanted: dict[str, Any]) -> None:
    stored = {**terms_json(terms_of(request)), "initial_supply": request["initial_supply"]}
    differing = [k for k, v in wanted.items() if stored[k] != v]
    if differing:
        raise ApiError(
            409,
            "conflict",
            f"bond {bond_id}'s token was deployed with other terms",
            [FieldError(k, "differs from the deployed token's") for k in differing],
        )


def deploy_token(
    session: Session, chain: IssuerChain, bond_id: int, body: TokenDeploy
) -> Deployment:
    bond = registry.get_bond(session, bond_id)
    check_terms(bond, body)
    wanted = _wanted(body)
    token = token_of_bond(session, bond_id)
    if token is not None:
        _same_or_conflict(bond_id, deployment_request(session, token), wanted)
        return Deployment(token_view(session, chain, token), created=False)
    with signer(chain, session) as client:
        reconcile(session, client, on_confirmed)
        token = token_of_bond(session, bond_id)
        if token is not None:  # an earlier request's deployment, mined since
            _same_or_conflict(bond_id, deployment_request(session, token), wanted)
            return Deployment(token_view(session, chain, token, client), created=False)
        tx = find(session, bond_id, DEPLOY, DEPLOY_KEY)
        if tx is not None and tx.status in ISSUER_TX_OPEN:  # sent, not mined yet: wait for it
            _same_or_conflict(bond_id, json.loads(tx.request_json), wanted)
        else:
            info = _personal_info(session, client, chain)
            if isinstance(info, IssuerTx):
                return Deployment(None, created=False, pending=info)
            impact_registry = registry_address(session, client, chain.registry_policy)
            terms = body.to_terms()
            call = constructor(
                client.w3,
                GREEN_BOND_TOKEN,
                *token_constructor_args(
                    terms,
                    body.initial_supply,
                    client.w3.to_checksum_address(info),
                    client.w3.to_checksum_address(impact_registry),
                    bond_id,
                ),
            )
            request = {
                "terms": terms_json(terms),
                "initial_supply": body.initial_supply,
                "personal_info_address": info,
                "impact_registry_address": impact_registry,
            }
            tx = submit(
                session,
                client,
                call,
                bond_id=bond_id,
                operation=DEPLOY,
                op_key=DEPLOY_KEY,
                request=request,
                reuse=tx,
            )
        tx = await_settled(session, client, tx, chain.wait_s, on_confirmed)
        if tx.status in ISSUER_TX_OPEN:
            return Deployment(None, created=False, pending=tx)
        token = token_of_bond(session, bond_id)
        if tx.status != "confirmed" or token is None:
            raise transaction_failed(tx)
        return Deployment(token_view(session, chain, token, client), created=True)


def _personal_info(session: Session, client: ChainClient, chain: IssuerChain) -> str | IssuerTx:
    """The address of this chain's PersonalInfo register, deployed on first need; or its
    deployment transaction while that is still on its way."""
    row = session.get(PersonalInfoContract, client.chain_id)
    if row is not None and client.has_code(row.contract_address):
        return row.contract_address
    tx = next(
        (t for t in open_ones(session) if t.operation == PERSONAL_INFO_OP),
        None,
    )
    if tx is None:
        tx = submit(
            session,
            client,
            constructor(client.w3, PERSONAL_INFO),
            bond_id=None,
            operation=PERSONAL_INFO_OP,
            request={},
        )
    tx = await_settled(session, client, tx, chain.wait_s, on_confirmed)
    if tx.status in ISSUER_TX_OPEN:
        return tx
    row = session.get(PersonalInfoContract, client.chain_id)
    if tx.status != "confirmed" or row is None:
        raise transaction_failed(tx)
    return row.contract_address

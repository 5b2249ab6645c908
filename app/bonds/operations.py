"""The issuer's operations on a deployed token, each a transaction signed by the service's chain
account (app/bonds/issuer_txs.py): issue, redeem, approve or cancel a transfer application,
the transferable and approval switches, and the change to redeemed.

Each is checked against the contract before it is signed (the gas estimate runs it), so a
refusal is a 4xx naming the field and the contract's figures, and nothing is sent. Each is safe
to repeat:

- an issue or a redemption carries the client's idempotency key: the same key and body again
  return the first transaction (200), another body under that key is a 409;
- an application is decided once: approving (or cancelling) it again returns the issuer's
  transaction that did it (200); one the other decision (or the applicant) settled is a 409;
- the switches and the change to redeemed are idempotent by the token's state: nothing is sent
  when the token is already so.
"""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session
from web3.contract import Contract
from web3.contract.contract import ContractFunction

from app.bonds.contracts import green_bond_token, personal_info
from app.bonds.issuer_txs import (
    IssuerChain,
    Sent,
    await_settled,
    find,
    on_confirmed,
    once,
    reconcile,
    signer,
    submit,
    transaction_failed,
)
from app.bonds.models import ISSUER_TX_OPEN, BondToken, IssuerTx
from app.bonds.schemas import ZERO_ADDRESS, TokenOut, TokenSettings, TokenUnits, TransferDecision
from app.bonds.service import deployed_token, deployment_request, token_view
from app.core.errors import ApiError, FieldError, unprocessable
from app.ledger.chain import ChainClient
from app.registry import service as registry

ISSUE, REDEEM = "issue", "redeem"
APPROVE, CANCEL = "approve_transfer", "cancel_transfer"
KEY = "Idempotency-Key"


def _issuer_contract(client: ChainClient, token: BondToken) -> Contract:
    """The token's contract, once the service's account is known to be its issuer there."""
    if client.chain_id != token.chain_id:
        raise ApiError(
            409,
            "wrong_chain",
            f"the token is on chain {token.chain_id}, the configured node is {client.chain_id}",
        )
    if client.account.address != token.issuer_address:
        raise ApiError(
            409,
            "not_issuer",
            f"the service's chain account {client.account.address} is not the token's issuer "
            f"{token.issuer_address} (GBT_ANCHOR_PRIVATE_KEY changed since it was deployed)",
        )
    return green_bond_token(client.w3, client.w3.to_checksum_address(token.contract_address))


def _once(
    session: Session,
    chain: IssuerChain,
    token: BondToken,
    operation: str,
    op_key: str,
    request: dict[str, Any],
    build: Callable[[ChainClient, Contract], ContractFunction],
    key_name: str | None = None,
) -> Sent:
    """``issuer_txs.once`` on the token's contract (checked to be the service's to sign for)."""
    return once(
        session,
        chain,
        bond_id=token.bond_id,
        operation=operation,
        op_key=op_key,
        request=request,
        build=lambda client: build(client, _issuer_contract(client, token)),
        key_name=key_name,
    )


def _units_request(body: TokenUnits) -> dict[str, Any]:
    return {"holder": body.holder, "amount": body.amount, "lock_address": body.lock_address}


def issue(session: Session, chain: IssuerChain, bond_id: int, body: TokenUnits, key: str) -> Sent:
    """``issueFrom``: new units to a registered holder (its free balance, or locked)."""
    token = deployed_token(session, bond_id)
    request = _units_request(body)
    bond = registry.get_bond(session, bond_id)
    face_value = deployment_request(session, token)["terms"]["face_value"]

    def build(client: ChainClient, contract: Contract) -> ContractFunction:
        if body.holder != token.issuer_address:
            register = personal_info(
                client.w3, client.w3.to_checksum_address(token.personal_info_address)
            )
            if not register.functions.isRegistered(body.holder, token.issuer_address).call():
                raise unprocessable(
                    [
                        FieldError(
                            "holder",
                            f"{body.holder} has not registered its personal information for the "
                            f"issuer in PersonalInfo {token.personal_info_address}: the "
                            "bondholder register would have a gap",
                        )
                    ]
                )
        supply = int(contract.functions.totalSupply().call()) + body.amount
        if Decimal(face_value) * supply > bond.amount_issued:
            raise unprocessable(
                [
                    FieldError(
                        "amount",
                        f"a supply of {supply} units x face value {face_value} = "
                        f"{Decimal(face_value) * supply} {bond.currency} would exceed the bond's "
                        f"amount issued {bond.amount_issued}",
                    )
                ]
            )
        return contract.functions.issueFrom(
            body.holder, body.lock_address or ZERO_ADDRESS, body.amount
        )

    return _once(session, chain, token, ISSUE, key, request, build, KEY)


def redeem(session: Session, chain: IssuerChain, bond_id: int, body: TokenUnits, key: str) -> Sent:
    """``redeemFrom``: units of a holder's free (or locked) balance are redeemed (burnt)."""
    token = deployed_token(session, bond_id)
    request = _units_request(body)

    def build(_: ChainClient, contract: Contract) -> ContractFunction:
        lock = body.lock_address or ZERO_ADDRESS
        return contract.functions.redeemFrom(body.holder, lock, body.amount)

    return _once(session, chain, token, REDEEM, key, request, build, KEY)


def decide_transfer(
    session: Session,
    chain: IssuerChain,
    bond_id: int,
    index: int,
    approve: bool,
    body: TransferDecision,
) -> Sent:
    """``approveTransfer`` or ``cancelTransfer`` of application ``index``."""
    token = deployed_token(session, bond_id)
    operation, other = (APPROVE, CANCEL) if approve else (CANCEL, APPROVE)
    decided = find(session, bond_id, other, str(index))
    if decided is not None and decided.status == "confirmed":
        done = "approved" if other == APPROVE else "cancelled"
        raise ApiError(
            409,
            "application_not_valid",
            f"transfer application {index} was {done} by the issuer (transaction "
            f"{decided.tx_hash})",
            [FieldError("index", f"already {done}")],
        )

    def build(_: ChainClient, contract: Contract) -> ContractFunction:
        functions = contract.functions
        decide = functions.approveTransfer if approve else functions.cancelTransfer
        return decide(index, body.data)

    request = {"index": index, "data": body.data}
    return _once(session, chain, token, operation, str(index), request, build)


def update_settings(
    session: Session, chain: IssuerChain, bond_id: int, body: TokenSettings
) -> tuple[TokenOut, bool]:
    """Sets the switches that differ from the token's (one transaction each); returns the
    token and whether every transaction is mined (else some are on their way: 202)."""
    token = deployed_token(session, bond_id)
    wanted = [
        ("set_transferable", "setTransferable", "transferable", body.transferable),
        (
            "set_transfer_approval_required",
            "setTransferApprovalRequired",
            "transferApprovalRequired",
            body.transfer_approval_required,
        ),
    ]
    with signer(chain, session) as client:
        reconcile(session, client, on_confirmed)
        functions = _issuer_contract(client, token).functions
        sent = [
            submit(
                session,
                client,
                getattr(functions, setter)(value),
                bond_id=bond_id,
                operation=operation,
                request={"value": value},
            )
            for operation, setter, getter, value in wanted
            if value is not None and getattr(functions, getter)().call() != value
        ]
        return _settled_view(session, chain, client, token, sent)


def change_to_redeemed(session: Session, chain: IssuerChain, bond_id: int) -> tuple[TokenOut, bool]:
    """``changeToRedeemed`` (irreversible); nothing is sent when the token is redeemed already."""
    token = deployed_token(session, bond_id)
    with signer(chain, session) as client:
        reconcile(session, client, on_confirmed)
        functions = _issuer_contract(client, token).functions
        sent = []
        if not functions.isRedeemed().call():
            sent.append(
                submit(
                    session,
                    client,
                    functions.changeToRedeemed(),
                    bond_id=bond_id,
                    operation="change_to_redeemed",
                    request={},
                )
            )
        return _settled_view(session, chain, client, token, sent)


def _settled_view(
    session: Session,
    chain: IssuerChain,
    client: ChainClient,
    token: BondToken,
    sent: list[IssuerTx],
) -> tuple[TokenOut, bool]:
    settled = [await_settled(session, client, tx, chain.wait_s, on_confirmed) for tx in sent]
    for tx in settled:
        if tx.status not in ("confirmed", *ISSUER_TX_OPEN):
            raise transaction_failed(tx)
    done = all(tx.status == "confirmed" for tx in settled)
    return token_view(session, chain, token, client), done

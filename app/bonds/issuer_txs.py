"""The issuer's transactions: every transaction the service signs as the bond tokens' issuer,
recorded with its signed bytes before it is sent and settled from the chain, so that a crash at
any point (after signing, after sending, after mining) is healed by the next request.

The issuer is the service's chain account, the one that anchors checkpoints (``GBT_ANCHOR_
PRIVATE_KEY``; the embedded chain's development key). One account, two writers: these requests
and the anchor job take nonces under the same lock (app.ledger.anchor.LOCK_NAME, a PostgreSQL
advisory lock across replicas), so they never sign the same nonce.

Every request that signs first settles the open transactions (``reconcile``), as the anchor job
does with its checkpoints: a mined one is ``confirmed`` (its effect, e.g. the ``bond_token`` row,
is recorded in the same database transaction) or ``reverted``; one the node does not know is
sent again (the same signed bytes: at most once); one whose nonce another transaction used is
``dropped`` (it never ran, so the request may be signed again).
"""

import json
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError, Web3Exception
from web3.types import Nonce, TxReceipt
from web3.utils.address import get_create_address

from app.bonds.contracts import decode_custom_error
from app.bonds.models import ISSUER_TX_OPEN, IssuerTx
from app.bonds.refusals import refusal
from app.core.db import utcnow
from app.core.errors import ApiError, FieldError
from app.core.locks import try_exclusive
from app.ledger.anchor import LOCK_NAME, AnchorPolicy
from app.ledger.chain import ChainClient, ChainError

POLL_S = 0.1
# Called when a transaction is found mined with status 1, in the database transaction that
# records it: the operation's effect on the service's own tables.
OnConfirmed = Callable[[Session, IssuerTx, TxReceipt], None]
# What a mined transaction of each operation changes in the service's tables, registered by the
# domain that sends it (bond deployments, credit issuances, ...): whichever request or job
# settles a transaction applies its effect, in the same database transaction.
_EFFECTS: dict[str, OnConfirmed] = {}


@dataclass(frozen=True)
class IssuerChain:
    """What the issuer's requests need of the chain: the engine (for the signer lock), a client
    factory (None: no chain configured), where the ImpactRegistry is (the anchoring policy),
    and how long a request waits for the lock and then for a receipt."""

    engine: Engine
    client_factory: Callable[[], ChainClient] | None
    registry_policy: AnchorPolicy
    wait_s: float


def chain_unavailable(exc: Exception) -> ApiError:
    return ApiError(
        503,
        "chain_unavailable",
        f"the chain cannot be reached or refused the request, try again: {exc}",
        headers={"Retry-After": "5"},
    )


def connect(chain: IssuerChain) -> ChainClient:
    """A chain client for reads (no lock)."""
    if chain.client_factory is None:
        raise ApiError(
            503,
            "chain_not_configured",
            "no chain is configured (GBT_ANCHORING_ENABLED is false, or GBT_CHAIN_RPC_URL is "
            "set without GBT_ANCHOR_PRIVATE_KEY): the bond token lives on the anchoring chain",
        )
    try:
        return chain.client_factory()
    except (ChainError, OSError) as exc:  # OSError: requests' connection errors too
        raise chain_unavailable(exc) from exc


@contextmanager
def signer(chain: IssuerChain, session: Session) -> Iterator[ChainClient]:
    """The chain client, while this request alone signs with the service's account. A chain
    that cannot be reached is 503 (nothing was sent, or what was sent is recorded and settled
    by the next request)."""
    # No transaction stays open while waiting: on SQLite every transaction holds the write
    # lock, which the lock's holder (this service's other request, the anchor job) needs.
    session.commit()
    with try_exclusive(chain.engine, LOCK_NAME, wait_s=chain.wait_s) as held:
        if not held:
            raise ApiError(
                503,
                "signer_busy",
                f"the service's chain account stayed busy for {chain.wait_s} s (a checkpoint "
                "being anchored, or another issuer request): try again",
                headers={"Retry-After": "5"},
            )
        client = connect(chain)
        try:
            yield client
        except ContractLogicError as exc:
            raise contract_refusal(exc) from exc
        except (ChainError, OSError, Web3Exception) as exc:
            raise chain_unavailable(exc) from exc


def register_effect(operations: Iterable[str], effect: OnConfirmed) -> None:
    for operation in operations:
        _EFFECTS[operation] = effect


def on_confirmed(session: Session, tx: IssuerTx, receipt: TxReceipt) -> None:
    """The effect of a mined transaction of any operation (none for one that only changes the
    chain: the indexers read its events)."""
    effect = _EFFECTS.get(tx.operation)
    if effect is not None:
        effect(session, tx, receipt)


def canonical(request: dict[str, Any]) -> str:
    return json.dumps(request, sort_keys=True, separators=(",", ":"))


def find(session: Session, bond_id: int | None, operation: str, op_key: str) -> IssuerTx | None:
    return session.scalar(
        select(IssuerTx).where(
            IssuerTx.bond_id == bond_id, IssuerTx.operation == operation, IssuerTx.op_key == op_key
        )
    )


def open_ones(session: Session, bond_id: int | None = None) -> list[IssuerTx]:
    query = select(IssuerTx).where(IssuerTx.status.in_(ISSUER_TX_OPEN))
    if bond_id is not None:
        query = query.where(IssuerTx.bond_id == bond_id)
    return list(session.scalars(query.order_by(IssuerTx.id)))


def transaction_failed(tx: IssuerTx) -> ApiError:
    """A transaction that did nothing on chain (reverted or dropped): the request may be sent
    again, and signs anew."""
    return ApiError(
        409,
        "transaction_failed",
        f"the {tx.operation} transaction {tx.tx_hash} was {tx.status} ({tx.error}): nothing "
        "changed on chain; send the request again",
    )


def contract_refusal(exc: ContractLogicError) -> ApiError:
    """The API error for a call the contract refuses (found by estimating it, before signing)."""
    data = exc.data if isinstance(exc, ContractCustomError) else None
    decoded = decode_custom_error(data) if isinstance(data, str) else None
    if decoded is None:
        return ApiError(409, "contract_refused", f"the contract refuses the transaction: {exc}")
    return refusal(*decoded)


def submit(
    session: Session,
    client: ChainClient,
    call: ContractFunction | ContractConstructor,
    *,
    bond_id: int | None,
    operation: str,
    request: dict[str, Any],
    op_key: str | None = None,
    reuse: IssuerTx | None = None,
) -> IssuerTx:
    """Signs ``call`` with the next nonce, records it (committed) and sends it. ``reuse``: the
    row of an earlier attempt that did nothing on chain (reverted or dropped). A call the
    contract refuses is the API error of its custom error, and nothing is recorded."""
    nonce = client.next_nonce()
    try:
        signed = client.sign(call, nonce)
    except ContractLogicError as exc:
        raise contract_refusal(exc) from exc
    tx = reuse or IssuerTx(bond_id=bond_id, operation=operation, op_key=op_key)
    tx.request_json = canonical(request)
    tx.chain_id, tx.nonce, tx.raw_tx, tx.tx_hash = (
        client.chain_id,
        nonce,
        signed.raw,
        signed.tx_hash,
    )
    deploys = isinstance(call, ContractConstructor)
    tx.contract_address = (
        get_create_address(client.account.address, Nonce(nonce)) if deploys else None
    )
    tx.status, tx.block_number, tx.error, tx.settled_at = "pending", None, None, None
    tx.created_at = utcnow()
    session.add(tx)
    session.commit()  # recorded before it is sent: a crash from here on is settled later
    client.broadcast(tx.raw_tx)
    tx.status = "sent"
    session.commit()
    return tx


def settle(session: Session, tx: IssuerTx, receipt: TxReceipt, on_confirmed: OnConfirmed) -> None:
    tx.block_number = int(receipt["blockNumber"])
    tx.settled_at = utcnow()
    if int(receipt["status"]) == 1:
        tx.status = "confirmed"
        on_confirmed(session, tx, receipt)
    else:
        tx.status, tx.error = "reverted", "the transaction reverted on chain: nothing changed"


def reconcile(session: Session, client: ChainClient, on_confirmed: OnConfirmed) -> None:
    """Brings every open transaction in line with the chain (commits)."""
    for tx in open_ones(session):
        if tx.chain_id != client.chain_id:
            tx.status = "dropped"
            tx.error = f"signed for chain {tx.chain_id}, the node is chain {client.chain_id}"
            continue
        block = client.block_number()  # pinned first: nonces mined by then are not ours
        receipt = client.receipt(tx.tx_hash)
        if receipt is not None:
            settle(session, tx, receipt, on_confirmed)
        elif client.mined_nonce(block) > tx.nonce:
            tx.status = "dropped"
            tx.error = f"nonce {tx.nonce} was used by another transaction: this one never ran"
        elif client.next_nonce() < tx.nonce:
            tx.status = "dropped"
            tx.error = "the chain lost the signer's earlier transactions: this one cannot run"
        else:
            _resend(tx, client)
    session.commit()


def _resend(tx: IssuerTx, client: ChainClient) -> None:
    """The first send after a crash, or again to a node that forgot it. A node that refuses it
    (e.g. the account cannot pay the gas) leaves it open with the reason, without holding up
    the request: a later transaction takes its nonce, and it is dropped then."""
    try:
        client.broadcast(tx.raw_tx)
    except ChainError as exc:
        tx.error = str(exc)
        return
    tx.status, tx.error = "sent", None


def await_settled(
    session: Session,
    client: ChainClient,
    tx: IssuerTx,
    wait_s: float,
    on_confirmed: OnConfirmed,
) -> IssuerTx:
    """Waits up to ``wait_s`` for the receipt and settles the transaction (commits); still
    ``sent`` after that (the next request settles it)."""
    deadline = time.monotonic() + wait_s
    while tx.status in ISSUER_TX_OPEN:
        receipt = client.receipt(tx.tx_hash)
        if receipt is not None:
            settle(session, tx, receipt, on_confirmed)
            session.commit()
        elif time.monotonic() >= deadline:
            break
        else:
            time.sleep(POLL_S)
    return tx


@dataclass(frozen=True)
class Sent:
    """An operation's transaction; ``replayed``: sent by an earlier request."""

    tx: IssuerTx
    replayed: bool

    def http_status(self) -> int:
        """201 mined now, 200 mined earlier (a retry), 202 on its way; 409 when it did nothing
        (reverted or dropped: the request may be sent again)."""
        if self.tx.status == "confirmed":
            return 200 if self.replayed else 201
        if self.tx.status in ISSUER_TX_OPEN:
            return 202
        raise transaction_failed(self.tx)


def _same_request(tx: IssuerTx, request: dict[str, Any], key_name: str) -> None:
    stored = json.loads(tx.request_json)
    differing = [k for k, v in request.items() if stored.get(k) != v]
    if differing:
        raise ApiError(
            409,
            "conflict",
            f"{key_name} {tx.op_key!r} was used for another {tx.operation}",
            [
                FieldError(k, f"differs from the request sent under this {key_name}")
                for k in differing
            ],
        )


def once(
    session: Session,
    chain: IssuerChain,
    *,
    bond_id: int | None,
    operation: str,
    op_key: str,
    request: dict[str, Any],
    build: Callable[[ChainClient], ContractFunction | ContractConstructor],
    key_name: str | None = None,
) -> Sent:
    """The transaction of ``operation`` under ``op_key``: the earlier one when it landed or is
    on its way, else a new one (``build`` checks the request against the chain and returns the
    call to sign). ``key_name``: the key is the client's (a header), and must not come with
    another request."""

    def earlier() -> IssuerTx | None:
        tx = find(session, bond_id, operation, op_key)
        if tx is not None and key_name is not None:
            _same_request(tx, request, key_name)
        return tx

    tx = earlier()
    if tx is not None and tx.status == "confirmed":
        return Sent(tx, replayed=True)
    with signer(chain, session) as client:
        reconcile(session, client, on_confirmed)
        tx = earlier()  # again under the lock: a concurrent request may have sent it
        if tx is not None and tx.status in ("confirmed", *ISSUER_TX_OPEN):
            return Sent(await_settled(session, client, tx, chain.wait_s, on_confirmed), True)
        call = build(client)
        tx = submit(
            session,
            client,
            call,
            bond_id=bond_id,
            operation=operation,
            op_key=op_key,
            request=request,
            reuse=tx,
        )
        return Sent(await_settled(session, client, tx, chain.wait_s, on_confirmed), False)

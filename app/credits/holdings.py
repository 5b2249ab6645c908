"""Credit balances and retirements from the indexed events (app/credits/indexer.py), as far as
the indexer has read (``indexed_through``): an account's balance of a token id is the units of
the ``Transfer`` rows to it minus those from it (mints come from, burns go to, no account); a
token id's retired units are the sum of its ``Retired`` rows. Only the rows of the chain's
current CarbonCredit contract count."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session
from web3 import Web3

from app.credits.indexer import RETIRED, TRANSFER, IndexedContract
from app.credits.models import CreditContract, CreditEvent

UINT16_MAX = 2**16 - 1


@dataclass(frozen=True)
class CreditBalance:
    account: str
    token_id: int
    units: int  # 1 unit = 1 t-CO2

    @property
    def project_id(self) -> int:
        return self.token_id >> 16  # the contract's tokenIdOf(projectId, vintage)

    @property
    def vintage(self) -> int:
        return self.token_id & UINT16_MAX


def _of(contract: CreditContract) -> list[Any]:
    return [
        CreditEvent.chain_id == contract.chain_id,
        CreditEvent.contract_address == Web3.to_checksum_address(contract.contract_address),
    ]


def indexed_through(session: Session, contract: CreditContract) -> int:
    """Every event of the contract up to this block is indexed (the block before its
    deployment while nothing is)."""
    return IndexedContract.of(contract).block_index().cursor(session)


def balances(
    session: Session,
    contract: CreditContract,
    *,
    account: str | None = None,
    token_id: int | None = None,
) -> list[CreditBalance]:
    """The non-zero balances (of ``account``, of ``token_id`` when given), by account and
    token id."""
    incoming = select(
        CreditEvent.to_address.label("account"),
        CreditEvent.token_id,
        CreditEvent.amount.label("units"),
    ).where(*_of(contract), CreditEvent.name == TRANSFER, CreditEvent.to_address.is_not(None))
    outgoing = select(
        CreditEvent.from_address.label("account"),
        CreditEvent.token_id,
        (-CreditEvent.amount).label("units"),
    ).where(*_of(contract), CreditEvent.name == TRANSFER, CreditEvent.from_address.is_not(None))
    if account is not None:
        account = Web3.to_checksum_address(account)
        incoming = incoming.where(CreditEvent.to_address == account)
        outgoing = outgoing.where(CreditEvent.from_address == account)
    if token_id is not None:
        incoming = incoming.where(CreditEvent.token_id == token_id)
        outgoing = outgoing.where(CreditEvent.token_id == token_id)
    moves = union_all(incoming, outgoing).subquery()
    total = func.sum(moves.c.units)
    rows = session.execute(
        select(moves.c.account, moves.c.token_id, total)
        .group_by(moves.c.account, moves.c.token_id)
        .having(total != 0)
        .order_by(moves.c.account, moves.c.token_id)
    ).all()
    # PostgreSQL sums BIGINT as NUMERIC (a Decimal here): back to int.
    return [CreditBalance(a, int(t), int(units)) for a, t, units in rows]


def balance_of(session: Session, contract: CreditContract, account: str, token_id: int) -> int:
    """The account's units of the token id (0 when none)."""
    found = balances(session, contract, account=account, token_id=token_id)
    return found[0].units if found else 0


def retired(
    session: Session, contract: CreditContract, token_ids: Iterable[int] | None = None
) -> dict[int, int]:
    """Units retired per token id (the contract's ``totalRetired``), of ``token_ids`` when
    given; token ids with no retirement are absent."""
    query = (
        select(CreditEvent.token_id, func.sum(CreditEvent.amount))
        .where(*_of(contract), CreditEvent.name == RETIRED)
        .group_by(CreditEvent.token_id)
    )
    if token_ids is not None:
        query = query.where(CreditEvent.token_id.in_(list(token_ids)))
    return {int(t): int(units) for t, units in session.execute(query).all()}


def retirements(
    session: Session,
    contract: CreditContract,
    *,
    account: str | None = None,
    token_id: int | None = None,
) -> list[CreditEvent]:
    """The ``Retired`` rows (of ``account``, of ``token_id`` when given), in chain order."""
    query = select(CreditEvent).where(*_of(contract), CreditEvent.name == RETIRED)
    if account is not None:
        query = query.where(CreditEvent.from_address == Web3.to_checksum_address(account))
    if token_id is not None:
        query = query.where(CreditEvent.token_id == token_id)
    return list(session.scalars(query.order_by(CreditEvent.block_number, CreditEvent.log_index)))

"""Reads of the indexed bond tokens for holders' statements: each deployed token with how far
its positions are indexed and the units they add up to, and one account's positions.

The indexer keeps ``token_position`` current as of the last block it has read; a position's
``block_number`` is the last block that changed it. So at the token's largest ``block_number``
every stored position is the chain's (none changed between then and the indexer's cursor), and
the positions add up to ``totalSupply`` there (every unit is some account's): that block is the
one a statement can name and anyone can check, until the indexer records its cursor.
"""

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.bonds.index_models import TokenIndexCursor
from app.bonds.models import BondToken, TokenPosition


@dataclass(frozen=True)
class IndexedToken:
    """A deployed token and what the index holds of it."""

    token: BondToken
    indexed_block: int | None  # None: no position indexed yet (the holdings are unknown)
    total_units: int  # balance + locked + pending of every position: totalSupply at that block


def indexed_tokens(session: Session) -> list[IndexedToken]:
    """Every deployed token, by bond id, with its indexed block and total units (one query).
    The indexed block is the indexer's cursor (every event up to it is in the positions); a
    token with positions but no cursor (written by hand, as some tests do) falls back to the
    largest block that changed one of them, at which every stored position holds as well."""
    totals = (
        select(
            TokenPosition.token_id,
            func.max(TokenPosition.block_number).label("block"),
            func.sum(
                TokenPosition.balance_units
                + TokenPosition.locked_units
                + TokenPosition.pending_units
            ).label("units"),
        )
        .group_by(TokenPosition.token_id)
        .subquery()
    )
    rows = session.execute(
        select(BondToken, TokenIndexCursor.block_number, totals.c.block, totals.c.units)
        .outerjoin(totals, totals.c.token_id == BondToken.id)
        .outerjoin(TokenIndexCursor, TokenIndexCursor.token_id == BondToken.id)
        .order_by(BondToken.bond_id)
    )
    return [
        IndexedToken(
            token=token,
            indexed_block=block if cursor is None else cursor,
            total_units=int(units or 0),
        )
        for token, cursor, block, units in rows
    ]


def positions_of(session: Session, account: str) -> dict[int, TokenPosition]:
    """The account's (checksum address) indexed positions, by token id."""
    positions = session.scalars(select(TokenPosition).where(TokenPosition.account == account))
    return {p.token_id: p for p in positions}

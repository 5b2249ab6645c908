"""Reads of the indexed holdings (app/bonds/indexer.py writes them): a token's positions, one
account's, and holder lists at a block or at a record date, as interest payments and impact
statements need them. Snapshots come from the position history in the database (each
account's latest TokenPositionChange at or before the block), so one at an old block needs no
archive node; only finding a record date's block reads block headers from the chain.

A record date is a calendar date in a time zone (Asia/Tokyo unless the caller says otherwise:
the issuer's and ibet for Fin's calendar); its snapshot is the one at the last block whose
timestamp is before the next local midnight, i.e. <= 23:59:59 local time on that date.
"""

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, and_, func, select
from sqlalchemy.orm import Session

from app.bonds.index_models import TokenBlock, TokenIndexCursor, TokenPositionChange
from app.bonds.models import BondToken, TokenPosition
from app.bonds.token_chain import TokenChain
from app.core.db import in_ids
from app.ledger.chain import ChainError

RECORD_DATE_TZ = ZoneInfo("Asia/Tokyo")


class NotIndexedYetError(Exception):
    """The indexer has not reached the block (or the end of the record date) asked about."""


@dataclass(frozen=True)
class Holding:
    account: str
    balance_units: int
    locked_units: int
    pending_units: int
    acquired_at: datetime | None  # when the holding began (block time); None if it is empty
    block_number: int  # the last block that changed it, up to the block asked about

    @property
    def units(self) -> int:
        """What the account holds: free, locked and pending units alike (``holdingOf``)."""
        return self.balance_units + self.locked_units + self.pending_units


@dataclass(frozen=True)
class HolderSnapshot:
    token_id: int
    block_number: int
    holders: tuple[Holding, ...]  # accounts holding units then, by account

    @property
    def total_units(self) -> int:
        return sum(h.units for h in self.holders)


def _columns(model: type[TokenPosition] | type[TokenPositionChange]) -> list[Any]:
    """A Holding's columns. Reads select columns, not ORM objects: the indexer writes these
    tables with plain statements, which would leave a session's loaded objects stale."""
    return [getattr(model, field.name) for field in fields(Holding)]


def indexed_through(session: Session, token_id: int, deployed_block: int) -> int:
    """The token's cursor: every event up to this block is in its positions."""
    cursor = session.scalar(
        select(TokenIndexCursor.block_number).where(TokenIndexCursor.token_id == token_id)
    )
    return deployed_block - 1 if cursor is None else cursor


def positions(session: Session, token_id: int) -> list[Holding]:
    """The token's current holders (as far as it is indexed), by account."""
    rows = session.execute(
        select(*_columns(TokenPosition))
        .where(
            TokenPosition.token_id == token_id,
            TokenPosition.balance_units + TokenPosition.locked_units + TokenPosition.pending_units
            > 0,
        )
        .order_by(TokenPosition.account)
    )
    return [Holding(*row) for row in rows]


def positions_of(session: Session, token_id: int, accounts: Sequence[str]) -> list[Holding]:
    """The current positions of these accounts (those that ever held units)."""
    rows = session.execute(
        select(*_columns(TokenPosition)).where(
            TokenPosition.token_id == token_id,
            in_ids(session, TokenPosition.account, accounts, String),
        )
    )
    return [Holding(*row) for row in rows]


def position(session: Session, token_id: int, account: str) -> Holding | None:
    """The account's current position (units may be zero after it held some); None if it
    never held any."""
    row = session.execute(
        select(*_columns(TokenPosition)).where(
            TokenPosition.token_id == token_id, TokenPosition.account == account
        )
    ).first()
    return None if row is None else Holding(*row)


def holdings_at(
    session: Session, token_id: int, block: int, accounts: Sequence[str] | None = None
) -> list[Holding]:
    """Each account's holding right after ``block`` (of ``accounts`` only, if given), by
    account: its latest history row at or before the block (accounts that never held any
    before it are absent)."""
    change = TokenPositionChange
    latest = select(change.account, func.max(change.block_number).label("block")).where(
        change.token_id == token_id, change.block_number <= block
    )
    if accounts is not None:
        latest = latest.where(in_ids(session, change.account, accounts, String))
    last = latest.group_by(change.account).subquery()
    rows = session.execute(
        select(*_columns(change))
        .join(last, and_(change.account == last.c.account, change.block_number == last.c.block))
        .where(change.token_id == token_id)
        .order_by(change.account)
    )
    return [Holding(*row) for row in rows]


def holders_at_block(session: Session, token: BondToken, block: int) -> HolderSnapshot:
    """Who held the token right after ``block``, and how much. NotIndexedYetError beyond the
    indexer's cursor."""
    cursor = indexed_through(session, token.id, token.deployed_block)
    if block > cursor:
        raise NotIndexedYetError(f"token {token.id} is indexed through block {cursor}, not {block}")
    held = holdings_at(session, token.id, block)
    return HolderSnapshot(token.id, block, tuple(h for h in held if h.units > 0))


def record_date_end(day: date, tz: ZoneInfo = RECORD_DATE_TZ) -> datetime:
    """The first instant after the record date (the next local midnight), in UTC."""
    return datetime.combine(day + timedelta(days=1), time(), tz).astimezone(UTC)


def record_date_block(
    session: Session, chain: TokenChain, token: BondToken, day: date, tz: ZoneInfo = RECORD_DATE_TZ
) -> int:
    """The last block whose timestamp falls on or before the record date (the block before the
    token's deployment when that was later). NotIndexedYetError until the indexer has read a block
    after the date, so no later block can still belong to it."""
    end = record_date_end(day, tz)
    cursor = indexed_through(session, token.id, token.deployed_block)
    known = select(TokenBlock.block_number).where(TokenBlock.token_id == token.id)
    cursor_time = session.scalar(
        select(TokenBlock.block_time).where(
            TokenBlock.token_id == token.id, TokenBlock.block_number == cursor
        )
    )
    if cursor_time is None or cursor_time < end:
        raise NotIndexedYetError(f"token {token.id} is not indexed past the end of {day} ({tz})")
    # Narrow the search with the blocks the indexer read: the last one before the end (else
    # the deployment) and the first one after it.
    before = session.scalar(
        known.where(TokenBlock.block_time < end).order_by(TokenBlock.block_number.desc()).limit(1)
    )
    high = session.scalar(
        known.where(TokenBlock.block_time >= end).order_by(TokenBlock.block_number).limit(1)
    )
    assert high is not None  # the cursor's block at worst
    low = token.deployed_block - 1 if before is None else before
    while high - low > 1:  # block times never decrease
        middle = (low + high) // 2
        header = chain.headers([middle]).get(middle)
        if header is None:
            raise ChainError(f"block {middle} is not on the chain")
        low, high = (middle, high) if header.time < end else (low, middle)
    return low


def holders_at_record_date(
    session: Session, chain: TokenChain, token: BondToken, day: date, tz: ZoneInfo = RECORD_DATE_TZ
) -> HolderSnapshot:
    """The holder list at the end of record date ``day`` (local in ``tz``)."""
    return holders_at_block(session, token, record_date_block(session, chain, token, day, tz))

"""The bond token indexer: keeps each GreenBondToken's positions (TokenPosition) and their
history (TokenPositionChange) from the chain, in the style of ibet-Prime's position indexer.

For each token, from its persisted cursor (the last block indexed), in ranges of at most
``block_range`` blocks, up to ``confirmations`` blocks below the head: one ``eth_getLogs`` for
the token's events that move holdings (app/bonds/events.py), the accounts each names, then each
such account's holding **re-read from the contract** (``holdingOf``) at every block whose events
touched it, pinned to the block's hash (many accounts a call: app/bonds/token_chain.py).
Balances are never summed from the events' amounts, so reading a range twice writes the same
rows. A range's history rows, positions, block hashes and cursor are written in one database
transaction: a crash anywhere leaves the cursor where the positions are, and the next run reads
the range again.

Reorgs: each run first compares the stored hash of the cursor block with the chain's. If they
differ (or the block is gone), the fork point is the newest stored block (the last
``keep_blocks`` read) the chain still has; everything above it is rewound in one transaction:
the history rows above it are deleted, the positions of the accounts they touched are restored
from their latest history row at or below it (read from blocks still on the chain; no state of
old blocks needed), and the cursor moves back to it. The next ranges read the new branch.
docs/bond-token.md ("Indexer") has the reasoning.
"""

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Literal, TypeVar

from eth_typing import ChecksumAddress
from sqlalchemy import String, delete, insert, select, update
from sqlalchemy.orm import Session
from web3 import Web3

from app.bonds.events import TOPICS, touched_accounts
from app.bonds.index_models import TokenBlock, TokenIndexCursor, TokenPositionChange
from app.bonds.models import BondToken, TokenPosition
from app.bonds.positions import holdings_at, indexed_through, positions_of
from app.bonds.token_chain import Header, Holding, TokenChain
from app.core.db import bulk_insert, in_ids, upsert, utcnow
from app.ledger.chain import ChainError

logger = logging.getLogger(__name__)

# Where a range's transaction can be interrupted (a crash, for tests): after the history rows,
# after the positions, after the cursor (just before the commit).
IndexStep = Literal["history", "positions", "cursor"]
StepHook = Callable[[IndexStep], None]
T = TypeVar("T")
_CHUNK = 5000  # accounts per IN list (SQLite takes 32,766 parameters; PostgreSQL one array)
# What a TokenPosition takes from the account's latest TokenPositionChange.
_POSITION = (
    "token_id",
    "account",
    "balance_units",
    "locked_units",
    "pending_units",
    "acquired_at",
    "block_number",
)


@dataclass(frozen=True)
class IndexerPolicy:
    confirmations: int = 2  # blocks on top of a block before it counts (0: the head counts)
    block_range: int = 1000  # blocks per range (one transaction)
    max_ranges: int = 50  # per token and run, so a run that catches up ends and frees the lock
    keep_blocks: int = 256  # newest read blocks whose hashes are kept: the reorg window


@dataclass(frozen=True)
class TokenIndexReport:
    token_id: int
    indexed_through: int  # the cursor after the run
    events: int  # logs read
    reads: int  # holdings re-read (one per account and block that touched it)
    rewound_to: int | None = None  # the fork point, after a reorg


@dataclass(frozen=True)
class IndexedToken:
    """The BondToken fields the indexer uses, read once: no lazy load may open a database
    transaction while the indexer waits on the chain."""

    id: int
    address: ChecksumAddress
    deployed_block: int

    @classmethod
    def of(cls, token: BondToken) -> "IndexedToken":
        return cls(token.id, Web3.to_checksum_address(token.contract_address), token.deployed_block)


class CursorMovedError(Exception):
    """Another indexer moved the token's cursor during this run (the lock should prevent it)."""


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def index_token(
    session: Session,
    chain: TokenChain,
    token: BondToken,
    policy: IndexerPolicy,
    hook: StepHook | None = None,
) -> TokenIndexReport:
    """Rewind after a reorg if there was one, then index ranges up to the confirmed head
    (at most ``policy.max_ranges``). ChainError when the node fails or the chain changes under
    a range (nothing of that range is written; the next run starts again from the cursor)."""
    indexed = IndexedToken.of(token)
    rewound = check_reorg(session, chain, indexed)
    cursor = indexed_through(session, indexed.id, indexed.deployed_block)
    cursor_hash = _stored_hash(session, indexed.id, cursor)
    session.commit()  # end the read: SQLite's BEGIN IMMEDIATE would lock writers out meanwhile
    confirmed = chain.head() - policy.confirmations
    events = reads = 0
    for _ in range(policy.max_ranges):
        if cursor >= confirmed:
            break
        last = min(cursor + policy.block_range, confirmed)
        cursor_hash, range_events, range_reads = _index_range(
            session, chain, indexed, (cursor, cursor_hash), last, policy, hook
        )
        events, reads, cursor = events + range_events, reads + range_reads, last
    return TokenIndexReport(indexed.id, cursor, events, reads, rewound)


def _stored_hash(session: Session, token_id: int, block: int) -> str | None:
    return session.scalar(
        select(TokenBlock.block_hash).where(
            TokenBlock.token_id == token_id, TokenBlock.block_number == block
        )
    )


def check_reorg(session: Session, chain: TokenChain, token: IndexedToken) -> int | None:
    """The fork point when the chain no longer has the cursor block (after rewinding to it),
    else None."""
    cursor = indexed_through(session, token.id, token.deployed_block)
    stored = _stored_hash(session, token.id, cursor)
    session.commit()  # end the read before waiting on the chain
    if stored is None:  # nothing indexed yet
        return None
    now = chain.headers([cursor]).get(cursor)
    if now is not None and now.hash == stored:
        return None
    fork = _fork_point(session, chain, token)
    logger.warning(
        "token %d: block %d is no longer on the chain: rewinding to block %d",
        token.id,
        cursor,
        fork,
    )
    rewind(session, token, fork)
    return fork


def _fork_point(session: Session, chain: TokenChain, token: IndexedToken) -> int:
    """The newest stored block the chain still has (its ancestors are then unchanged too);
    the block before the deployment when none is (a reorg deeper than the window: all again)."""
    stored = session.execute(
        select(TokenBlock.block_number, TokenBlock.block_hash)
        .where(TokenBlock.token_id == token.id)
        .order_by(TokenBlock.block_number.desc())
    ).all()
    session.commit()
    for chunk in _chunks(stored):
        headers = chain.headers(number for number, _ in chunk)
        for number, block_hash in chunk:
            header = headers.get(number)
            if header is not None and header.hash == block_hash:
                return int(number)
    return token.deployed_block - 1


def rewind(session: Session, token: IndexedToken, fork: int) -> None:
    """Forget everything indexed above block ``fork``, in one transaction."""
    changed = TokenPositionChange
    touched = list(
        session.scalars(
            select(changed.account)
            .where(changed.token_id == token.id, changed.block_number > fork)
            .distinct()
        )
    )
    session.execute(
        delete(changed).where(changed.token_id == token.id, changed.block_number > fork)
    )
    for accounts in _chunks(touched):
        restored = {h.account: h for h in holdings_at(session, token.id, fork, accounts)}
        gone = [a for a in accounts if a not in restored]
        session.execute(
            delete(TokenPosition).where(
                TokenPosition.token_id == token.id,
                in_ids(session, TokenPosition.account, gone, String),
            )
        )
        _upsert_positions(
            session,
            [_position_row({"token_id": token.id, **asdict(h)}) for h in restored.values()],
        )
    session.execute(
        delete(TokenBlock).where(TokenBlock.token_id == token.id, TokenBlock.block_number > fork)
    )
    session.execute(
        update(TokenIndexCursor)
        .where(TokenIndexCursor.token_id == token.id)
        .values(block_number=fork, updated_at=utcnow())
    )
    session.commit()


def _index_range(
    session: Session,
    chain: TokenChain,
    token: IndexedToken,
    cursor: tuple[int, str | None],
    last: int,
    policy: IndexerPolicy,
    hook: StepHook | None,
) -> tuple[str, int, int]:
    """Blocks after the cursor (number, hash if known) up to ``last``: read everything from
    the chain, then write it in one transaction. Returns (the hash of ``last``, events, reads).

    The headers of the cursor's block and of ``last`` are read before and after: unchanged,
    and the former still the block indexed last, they prove that every read was of one chain
    continuing the indexed one (a reorg below the cursor during the run cannot slip in)."""
    number, cursor_hash = cursor
    bounds = chain.headers([number, last])
    if len(bounds) < 2 or (cursor_hash is not None and bounds[number].hash != cursor_hash):
        raise ChainError(f"blocks {number} to {last} changed: a reorg (the next run rewinds)")
    logs = chain.logs(token.address, TOPICS, number + 1, last)
    touched: dict[int, tuple[str, set[ChecksumAddress]]] = {}
    for log in logs:
        block_hash, accounts = touched.setdefault(log.block_number, (log.block_hash, set()))
        if block_hash != log.block_hash:
            raise ChainError(f"logs of block {log.block_number} from two branches")
        accounts.update(touched_accounts(log.topics, log.data))
    headers = chain.headers(touched)
    for block, (block_hash, _) in touched.items():
        if block not in headers or headers[block].hash != block_hash:
            raise ChainError(f"block {block} changed while its logs were read")
    reads = [
        (account, block, block_hash)
        for block, (block_hash, accounts) in sorted(touched.items())
        for account in sorted(accounts)
    ]
    holdings = chain.holdings(token.address, [(a, h) for a, _, h in reads])
    if chain.headers([number, last]) != bounds:
        raise ChainError(f"blocks {number} to {last} changed while they were read")
    read_at = {(a, n): holding for (a, n, _), holding in zip(reads, holdings, strict=True)}
    _store(session, token, number, bounds[last], headers, read_at, policy, hook)
    return bounds[last].hash, len(logs), len(reads)


def _store(
    session: Session,
    token: IndexedToken,
    cursor: int,
    end: Header,
    headers: dict[int, Header],
    read_at: dict[tuple[ChecksumAddress, int], Holding],
    policy: IndexerPolicy,
    hook: StepHook | None,
) -> None:
    """One transaction: history rows, positions, block hashes, the cursor (compare and set)."""
    try:
        changes = _changes(session, token.id, headers, read_at)
        bulk_insert(session, TokenPositionChange.__table__, changes)
        if hook:
            hook("history")
        latest = {row["account"]: row for row in changes}  # rows are in block order
        _upsert_positions(session, [_position_row(row) for row in latest.values()])
        if hook:
            hook("positions")
        blocks = {**headers, end.number: end}
        session.execute(
            insert(TokenBlock),
            [
                {
                    "token_id": token.id,
                    "block_number": h.number,
                    "block_hash": h.hash,
                    "block_time": h.time,
                }
                for h in blocks.values()
            ],
        )
        _move_cursor(session, token.id, cursor, end.number)
        _prune_blocks(session, token.id, policy.keep_blocks)
        if hook:
            hook("cursor")
        session.commit()
    except BaseException:
        session.rollback()
        raise


def _changes(
    session: Session,
    token_id: int,
    headers: dict[int, Header],
    read_at: dict[tuple[ChecksumAddress, int], Holding],
) -> list[dict[str, object]]:
    """History rows in block order, each with the acquisition time of the holding it shows:
    the time of the block where the account's holding last rose from nothing."""
    accounts = sorted({account for account, _ in read_at})
    state: dict[str, tuple[int, datetime | None]] = {}  # account: (units, acquired_at) so far
    for chunk in _chunks(accounts):
        for holding in positions_of(session, token_id, chunk):
            state[holding.account] = (holding.units, holding.acquired_at)
    rows: list[dict[str, object]] = []
    for (account, number), (balance, locked, pending) in sorted(
        read_at.items(), key=lambda item: (item[0][1], item[0][0])
    ):
        units_before, acquired = state.get(account, (0, None))
        units = balance + locked + pending
        if units == 0:
            acquired = None
        elif units_before == 0:
            acquired = headers[number].time
        state[account] = (units, acquired)
        rows.append(
            {
                "token_id": token_id,
                "account": account,
                "block_number": number,
                "block_time": headers[number].time,
                "balance_units": balance,
                "locked_units": locked,
                "pending_units": pending,
                "acquired_at": acquired,
            }
        )
    return rows


def _position_row(change: Mapping[str, object]) -> dict[str, object]:
    """The TokenPosition row an account's latest history row gives."""
    return {name: change[name] for name in _POSITION} | {"updated_at": utcnow()}


def _upsert_positions(session: Session, rows: list[dict[str, object]]) -> None:
    if not rows:
        return
    statement = upsert(session, TokenPosition.__table__)
    statement = statement.on_conflict_do_update(
        index_elements=["token_id", "account"],
        set_={
            name: statement.excluded[name]
            for name in rows[0]
            if name not in ("token_id", "account")
        },
    )
    session.execute(statement, rows)


def _move_cursor(session: Session, token_id: int, cursor: int, to: int) -> None:
    """Compare and set: a second indexer that got here first makes this one roll back."""
    if session.get(TokenIndexCursor, token_id) is None:
        session.add(TokenIndexCursor(token_id=token_id, block_number=to, updated_at=utcnow()))
        session.flush()  # a concurrent insert fails here, on the primary key
        return
    moved = session.execute(
        update(TokenIndexCursor)
        .where(TokenIndexCursor.token_id == token_id, TokenIndexCursor.block_number == cursor)
        .values(block_number=to, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise CursorMovedError(f"token {token_id}: the cursor moved under this run")


def _prune_blocks(session: Session, token_id: int, keep: int) -> None:
    """Keep the newest ``keep`` block hashes of the token (the cursor's always among them)."""
    oldest_kept = (
        select(TokenBlock.block_number)
        .where(TokenBlock.token_id == token_id)
        .order_by(TokenBlock.block_number.desc())
        .offset(keep - 1)
        .limit(1)
        .scalar_subquery()
    )
    session.execute(
        delete(TokenBlock).where(
            TokenBlock.token_id == token_id, TokenBlock.block_number < oldest_kept
        )
    )

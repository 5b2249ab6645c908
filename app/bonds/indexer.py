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
The cursor, block hashes, ranges and reorg checks are every indexer's (app/ledger/block_index.py,
shared with the credit indexer); the history and positions are this module's.
docs/bond-token.md ("Indexer") has the reasoning.
"""

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Literal

from eth_typing import ChecksumAddress
from sqlalchemy import String, delete, select
from sqlalchemy.orm import Session
from web3 import Web3

from app.bonds.events import TOPICS, touched_accounts
from app.bonds.index_models import TokenBlock, TokenIndexCursor, TokenPositionChange
from app.bonds.models import BondToken, TokenPosition
from app.bonds.positions import holdings_at, positions_of
from app.bonds.token_chain import Header, Holding, TokenChain
from app.core.db import bulk_insert, in_ids, upsert, utcnow
from app.ledger.block_index import (
    BlockIndex,
    Cursor,
    ForgetAbove,
    RangeLogs,
    chunks,
    index_ranges,
    read_range,
)
from app.ledger.block_index import CursorMovedError as CursorMovedError
from app.ledger.block_index import IndexerPolicy as IndexerPolicy

# Where a range's transaction can be interrupted (a crash, for tests): after the history rows,
# after the positions, after the cursor (just before the commit).
IndexStep = Literal["history", "positions", "cursor"]
StepHook = Callable[[IndexStep], None]
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

    def block_index(self) -> BlockIndex:
        """The token's cursor and block hashes (token_index_cursor, token_block)."""
        return BlockIndex(
            TokenIndexCursor,
            TokenBlock,
            "token_id",
            self.id,
            self.deployed_block - 1,
            f"token {self.id}",
        )


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
    counts = [0, 0]  # events, reads

    def index_range(cursor: Cursor, last: int) -> str:
        end_hash, events, reads = _index_range(session, chain, indexed, cursor, last, policy, hook)
        counts[0], counts[1] = counts[0] + events, counts[1] + reads
        return end_hash

    rewound, cursor = index_ranges(
        session, chain, indexed.block_index(), policy, _forget_above(indexed), index_range
    )
    return TokenIndexReport(indexed.id, cursor, counts[0], counts[1], rewound)


def check_reorg(session: Session, chain: TokenChain, token: IndexedToken) -> int | None:
    """The fork point when the chain no longer has the cursor block (after rewinding to it),
    else None."""
    return token.block_index().check_reorg(session, chain, _forget_above(token))


def rewind(session: Session, token: IndexedToken, fork: int) -> None:
    """Forget everything indexed above block ``fork``, in one transaction."""
    token.block_index().rewind(session, fork, _forget_above(token))


def _forget_above(token: IndexedToken) -> ForgetAbove:
    """Deletes the history above the fork point and restores the positions of the accounts
    it touched from their latest history row at or below it."""

    def forget(session: Session, fork: int) -> None:
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
        for accounts in chunks(touched):
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

    return forget


def _index_range(
    session: Session,
    chain: TokenChain,
    token: IndexedToken,
    cursor: Cursor,
    last: int,
    policy: IndexerPolicy,
    hook: StepHook | None,
) -> tuple[str, int, int]:
    """Blocks after the cursor (number, hash if known) up to ``last``: read everything from
    the chain (app/ledger/block_index.py checks that it is one chain continuing the indexed
    one), then write it in one transaction. Returns (the hash of ``last``, events, reads)."""

    def read_holdings(read: RangeLogs) -> dict[tuple[ChecksumAddress, int], Holding]:
        touched: dict[int, set[ChecksumAddress]] = {}
        for log in read.logs:
            touched.setdefault(log.block_number, set()).update(
                touched_accounts(log.topics, log.data)
            )
        reads = [
            (account, block, read.headers[block].hash)
            for block, accounts in sorted(touched.items())
            for account in sorted(accounts)
        ]
        holdings = chain.holdings(token.address, [(a, h) for a, _, h in reads])
        return {(a, n): holding for (a, n, _), holding in zip(reads, holdings, strict=True)}

    read, read_at = read_range(chain, token.address, TOPICS, cursor, last, read_holdings)

    def write() -> None:
        _write(session, token, read.headers, read_at, hook)

    before_commit = (lambda: hook("cursor")) if hook else None
    token.block_index().store(session, read, policy.keep_blocks, write, before_commit)
    return read.end.hash, len(read.logs), len(read_at)


def _write(
    session: Session,
    token: IndexedToken,
    headers: dict[int, Header],
    read_at: dict[tuple[ChecksumAddress, int], Holding],
    hook: StepHook | None,
) -> None:
    """The range's history rows and positions (the block hashes and cursor follow in the same
    transaction)."""
    changes = _changes(session, token.id, headers, read_at)
    bulk_insert(session, TokenPositionChange.__table__, changes)
    if hook:
        hook("history")
    latest = {row["account"]: row for row in changes}  # rows are in block order
    _upsert_positions(session, [_position_row(row) for row in latest.values()])
    if hook:
        hook("positions")


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
    for chunk in chunks(accounts):
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

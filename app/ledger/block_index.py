"""What every block indexer of the service does, whatever it indexes (a bond token's holdings,
app/bonds/indexer.py; a CarbonCredit contract's events, app/credits/indexer.py): a cursor (the
last block indexed) and the hashes of the newest blocks read, in two tables keyed by what is
indexed (``BlockIndex``), and the moves that keep them true.

A run first compares the stored hash of the cursor block with the chain's (``check_reorg``). If
they differ (or the block is gone), the fork point is the newest stored block the chain still
has; in one transaction the indexer's own rows above it are forgotten (a callback), the block
hashes above it deleted and the cursor moved back to it. Then ranges of at most
``block_range`` blocks up to ``confirmations`` below the head (``index_ranges``): each range's
logs are read with the headers of its bounds before and after (``read_range``: a chain that
changes under a range fails it, nothing written), then its rows, block hashes and cursor are
written in one transaction (``BlockIndex.store``; the cursor by compare and set).
docs/bond-token.md ("Indexer") has the reasoning.
"""

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from eth_typing import ChecksumAddress
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from app.core.db import Base, utcnow
from app.ledger.block_chain import BlockChain, Header, RawLog
from app.ledger.chain import ChainError

logger = logging.getLogger(__name__)

T = TypeVar("T")
CHUNK = 5000  # items per IN list (SQLite takes 32,766 parameters; PostgreSQL one array)
Cursor = tuple[int, str | None]  # the block indexed through, and its hash when stored
# Deletes the indexer's own rows above a block (the fork point), in the rewind's transaction.
ForgetAbove = Callable[[Session, int], None]


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True)
class IndexerPolicy:
    confirmations: int = 2  # blocks on top of a block before it counts (0: the head counts)
    block_range: int = 1000  # blocks per range (one transaction)
    max_ranges: int = 50  # per run, so a run that catches up ends and frees the lock
    keep_blocks: int = 256  # newest read blocks whose hashes are kept: the reorg window


class CursorMovedError(Exception):
    """Another indexer moved the cursor during this run (the lock should prevent it)."""


@dataclass(frozen=True)
class RangeLogs:
    """What the chain says about the blocks after ``cursor`` up to ``end``."""

    cursor: int
    end: Header
    logs: list[RawLog]  # in chain order
    headers: dict[int, Header]  # of every block with logs, matching the logs' block hashes

    def blocks(self) -> dict[int, Header]:
        """The blocks whose hashes a range stores: each with logs, and its last (the cursor's
        next)."""
        return {**self.headers, self.end.number: self.end}


@dataclass(frozen=True)
class BlockIndex:
    """The cursor and block hashes of one indexed thing: the row of ``cursors`` and the rows
    of ``blocks`` whose ``key`` column is ``value``. Both tables have ``block_number``; the
    cursor table ``updated_at`` (and ``key`` as its primary key), the block table
    ``block_hash`` and ``block_time``. ``start``: the cursor before anything is indexed (the
    block before the deployment)."""

    cursors: type[Base]
    blocks: type[Base]
    key: str
    value: int
    start: int
    label: str  # for the log: "token 3"

    def _of(self, table: type[Base]) -> Any:
        column: Any = getattr(table, self.key)
        return column == self.value

    def _column(self, table: type[Base], name: str) -> Any:
        return getattr(table, name)

    def cursor(self, session: Session) -> int:
        """Every event up to this block is indexed."""
        cursor: int | None = session.scalar(
            select(self._column(self.cursors, "block_number")).where(self._of(self.cursors))
        )
        return self.start if cursor is None else cursor

    def stored_hash(self, session: Session, block: int) -> str | None:
        number = self._column(self.blocks, "block_number")
        found: str | None = session.scalar(
            select(self._column(self.blocks, "block_hash")).where(
                self._of(self.blocks), number == block
            )
        )
        return found

    def check_reorg(
        self, session: Session, chain: BlockChain, forget_above: ForgetAbove
    ) -> int | None:
        """The fork point when the chain no longer has the cursor block (after rewinding to
        it), else None."""
        cursor = self.cursor(session)
        stored = self.stored_hash(session, cursor)
        session.commit()  # end the read before waiting on the chain
        if stored is None:  # nothing indexed yet
            return None
        now = chain.headers([cursor]).get(cursor)
        if now is not None and now.hash == stored:
            return None
        fork = self.fork_point(session, chain)
        logger.warning(
            "%s: block %d is no longer on the chain: rewinding to block %d",
            self.label,
            cursor,
            fork,
        )
        self.rewind(session, fork, forget_above)
        return fork

    def fork_point(self, session: Session, chain: BlockChain) -> int:
        """The newest stored block the chain still has (its ancestors are then unchanged too);
        ``start`` when none is (a reorg deeper than the window: all again)."""
        number = self._column(self.blocks, "block_number")
        stored = session.execute(
            select(number, self._column(self.blocks, "block_hash"))
            .where(self._of(self.blocks))
            .order_by(number.desc())
        ).all()
        session.commit()
        for chunk in chunks(stored):
            headers = chain.headers(n for n, _ in chunk)
            for n, block_hash in chunk:
                header = headers.get(n)
                if header is not None and header.hash == block_hash:
                    return int(n)
        return self.start

    def rewind(self, session: Session, fork: int, forget_above: ForgetAbove) -> None:
        """Forget everything indexed above block ``fork``, in one transaction."""
        forget_above(session, fork)
        session.execute(
            delete(self.blocks).where(
                self._of(self.blocks), self._column(self.blocks, "block_number") > fork
            )
        )
        session.execute(
            update(self.cursors)
            .where(self._of(self.cursors))
            .values(block_number=fork, updated_at=utcnow())
        )
        session.commit()

    def store(
        self,
        session: Session,
        read: RangeLogs,
        keep_blocks: int,
        write: Callable[[], None],
        before_commit: Callable[[], None] | None = None,
    ) -> None:
        """One transaction: the indexer's rows (``write``), the range's block hashes, the
        cursor (compare and set), the window pruned; rolled back on any failure (a crash
        included)."""
        try:
            write()
            session.execute(
                insert(self.blocks),
                [
                    {
                        self.key: self.value,
                        "block_number": h.number,
                        "block_hash": h.hash,
                        "block_time": h.time,
                    }
                    for h in read.blocks().values()
                ],
            )
            self.move_cursor(session, read.cursor, read.end.number)
            self.prune(session, keep_blocks)
            if before_commit:
                before_commit()
            session.commit()
        except BaseException:
            session.rollback()
            raise

    def move_cursor(self, session: Session, cursor: int, to: int) -> None:
        """Compare and set: a second indexer that got here first makes this one roll back."""
        if session.get(self.cursors, self.value) is None:
            session.add(
                self.cursors(**{self.key: self.value, "block_number": to, "updated_at": utcnow()})
            )
            session.flush()  # a concurrent insert fails here, on the primary key
            return
        moved = session.execute(
            update(self.cursors)
            .where(self._of(self.cursors), self._column(self.cursors, "block_number") == cursor)
            .values(block_number=to, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            raise CursorMovedError(f"{self.label}: the cursor moved under this run")

    def prune(self, session: Session, keep: int) -> None:
        """Keep the newest ``keep`` block hashes (the cursor's always among them)."""
        number = self._column(self.blocks, "block_number")
        oldest_kept = (
            select(number)
            .where(self._of(self.blocks))
            .order_by(number.desc())
            .offset(keep - 1)
            .limit(1)
            .scalar_subquery()
        )
        session.execute(delete(self.blocks).where(self._of(self.blocks), number < oldest_kept))


def read_range(
    chain: BlockChain,
    address: ChecksumAddress,
    topics: Sequence[str],
    cursor: Cursor,
    last: int,
    also: Callable[[RangeLogs], T],
) -> tuple[RangeLogs, T]:
    """The contract's logs after the cursor (number, hash if known) up to ``last``, the headers
    of their blocks, and whatever else ``also`` reads of the chain for them.

    The headers of the cursor's block and of ``last`` are read before and after: unchanged,
    and the former still the block indexed last, they prove that every read was of one chain
    continuing the indexed one (a reorg below the cursor during the run cannot slip in)."""
    number, cursor_hash = cursor
    bounds = chain.headers([number, last])
    if len(bounds) < 2 or (cursor_hash is not None and bounds[number].hash != cursor_hash):
        raise ChainError(f"blocks {number} to {last} changed: a reorg (the next run rewinds)")
    logs = chain.logs(address, topics, number + 1, last)
    hashes: dict[int, str] = {}
    for log in logs:
        if hashes.setdefault(log.block_number, log.block_hash) != log.block_hash:
            raise ChainError(f"logs of block {log.block_number} from two branches")
    headers = chain.headers(hashes)
    for block, block_hash in hashes.items():
        if block not in headers or headers[block].hash != block_hash:
            raise ChainError(f"block {block} changed while its logs were read")
    read = RangeLogs(number, bounds[last], logs, headers)
    extra = also(read)
    if chain.headers([number, last]) != bounds:
        raise ChainError(f"blocks {number} to {last} changed while they were read")
    return read, extra


def index_ranges(
    session: Session,
    chain: BlockChain,
    index: BlockIndex,
    policy: IndexerPolicy,
    forget_above: ForgetAbove,
    index_range: Callable[[Cursor, int], str],
) -> tuple[int | None, int]:
    """Rewind after a reorg if there was one, then index ranges up to the confirmed head (at
    most ``policy.max_ranges``): ``index_range(cursor, last)`` reads and stores the blocks
    after the cursor up to ``last`` and returns the hash of ``last``. Returns (the fork point
    after a reorg, the cursor after the run)."""
    rewound = index.check_reorg(session, chain, forget_above)
    cursor = index.cursor(session)
    cursor_hash = index.stored_hash(session, cursor)
    session.commit()  # end the read: SQLite's BEGIN IMMEDIATE would lock writers out meanwhile
    confirmed = chain.head() - policy.confirmations
    for _ in range(policy.max_ranges):
        if cursor >= confirmed:
            break
        last = min(cursor + policy.block_range, confirmed)
        cursor_hash = index_range((cursor, cursor_hash), last)
        cursor = last
    return rewound, cursor

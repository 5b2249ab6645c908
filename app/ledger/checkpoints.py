"""Reads of the checkpoint table: every query of the stored checkpoints (the anchor job writes).

The APIs and the integrity check read confirmed checkpoints (the latest, by contract number,
the one covering a leaf, each figure's anchoring); the anchor job reads the open ones and those
of the contract in use. ``ix_checkpoint_status_tree_size`` finds the confirmed checkpoint
covering a leaf in one index probe.
"""

from sqlalchemy import ScalarResult, func, select
from sqlalchemy.orm import Session

from app.core.db import in_ids
from app.core.pagination import Rows, cut, decode_cursor
from app.ledger.models import Checkpoint, LogEntry

OPEN = ("pending", "sent")
# Rows whose tree is, or is on its way to be, on the contract in use.
LIVE = ("pending", "sent", "confirmed")
# Rows no chain holds: never sent (failed) or no longer there (lost).
OFF_CHAIN = ("failed", "lost")


# Confirmed checkpoints (the APIs and the integrity check)


def latest_confirmed(session: Session) -> Checkpoint | None:
    return session.scalar(
        select(Checkpoint)
        .where(Checkpoint.status == "confirmed")
        .order_by(Checkpoint.tree_size.desc())
        .limit(1)
    )


def confirmed(session: Session, number: int) -> Checkpoint | None:
    """The confirmed checkpoint with this contract number (the newest row, should a number be
    confirmed on two chains)."""
    return session.scalar(
        select(Checkpoint)
        .where(Checkpoint.status == "confirmed", Checkpoint.number == number)
        .order_by(Checkpoint.id.desc())
        .limit(1)
    )


def latest_confirmed_by_block(
    session: Session, chain_id: int, address: str, block: int
) -> Checkpoint | None:
    """The latest checkpoint of this contract confirmed in block ``block`` or earlier (what a
    call pinned to that block sees as confirmed)."""
    return session.scalar(
        select(Checkpoint)
        .where(
            Checkpoint.status == "confirmed",
            Checkpoint.chain_id == chain_id,
            Checkpoint.contract_address == address,
            Checkpoint.block_number <= block,
        )
        .order_by(Checkpoint.number.desc(), Checkpoint.id.desc())
        .limit(1)
    )


def latest_covering(session: Session, leaf_index: int) -> Checkpoint | None:
    """The latest confirmed checkpoint whose tree contains the leaf (a proof bundle's)."""
    return session.scalar(
        select(Checkpoint)
        .where(Checkpoint.status == "confirmed", Checkpoint.tree_size > leaf_index)
        .order_by(Checkpoint.number.desc(), Checkpoint.id.desc())
        .limit(1)
    )


def confirmed_from(session: Session, tree_size: int) -> ScalarResult[Checkpoint]:
    """The confirmed checkpoints of at least this tree size, smallest first (read as they are
    iterated)."""
    return session.scalars(
        select(Checkpoint)
        .where(Checkpoint.status == "confirmed", Checkpoint.tree_size >= tree_size)
        .order_by(Checkpoint.tree_size)
    )


def anchoring_of(
    session: Session, kind: str, ref_ids: list[int]
) -> dict[int, tuple[int, int | None]]:
    """ref_id -> (leaf index, number of the first confirmed checkpoint whose tree contains the
    leaf, or None while none does), for the sources of this kind that are in the log. One query
    per 1,000 ids; each covering checkpoint is one index probe, however many checkpoints exist."""
    covering = (
        select(Checkpoint.number)
        .where(Checkpoint.status == "confirmed", Checkpoint.tree_size > LogEntry.leaf_index)
        .order_by(Checkpoint.tree_size)
        .limit(1)
        .correlate(LogEntry)
        .scalar_subquery()
    )
    found: dict[int, tuple[int, int | None]] = {}
    for i in range(0, len(ref_ids), 1000):
        chunk = ref_ids[i : i + 1000]
        for ref_id, leaf_index, number in session.execute(
            select(LogEntry.ref_id, LogEntry.leaf_index, covering).where(
                LogEntry.kind == kind, in_ids(session, LogEntry.ref_id, chunk)
            )
        ):
            found[ref_id] = (leaf_index, number)
    return found


def newest_first(
    session: Session, limit: int, cursor: str | None, on_chain_only: bool
) -> Rows[Checkpoint]:
    """A page of checkpoints, newest first; the cursor is the last id returned.
    ``on_chain_only`` leaves out those no chain holds (failed and lost ones)."""
    query = select(Checkpoint).order_by(Checkpoint.id.desc())
    if on_chain_only:
        query = query.where(Checkpoint.status.notin_(OFF_CHAIN))
    before = decode_cursor(cursor)
    if before is not None:
        query = query.where(Checkpoint.id < before)
    return cut(list(session.scalars(query.limit(limit + 1))), limit, lambda cp: cp.id)


# The anchor job's reads


def open_ones(session: Session) -> list[Checkpoint]:
    """Pending and sent checkpoints, oldest first."""
    return list(
        session.scalars(
            select(Checkpoint).where(Checkpoint.status.in_(OPEN)).order_by(Checkpoint.id)
        )
    )


def live_on(session: Session, chain_id: int, address: str) -> list[Checkpoint]:
    """The pending, sent and confirmed checkpoints of this contract."""
    return list(
        session.scalars(
            select(Checkpoint).where(
                Checkpoint.chain_id == chain_id,
                Checkpoint.contract_address == address,
                Checkpoint.status.in_(LIVE),
            )
        )
    )


def confirmed_on(session: Session, chain_id: int, address: str) -> list[Checkpoint]:
    """The confirmed checkpoints of this contract, by contract number."""
    return list(
        session.scalars(
            select(Checkpoint)
            .where(
                Checkpoint.status == "confirmed",
                Checkpoint.chain_id == chain_id,
                Checkpoint.contract_address == address,
            )
            .order_by(Checkpoint.number, Checkpoint.id)
        )
    )


def holding(session: Session, chain_id: int, address: str, number: int) -> list[Checkpoint]:
    """The confirmed checkpoints recorded under this contract number (one at most)."""
    return list(
        session.scalars(
            select(Checkpoint).where(
                Checkpoint.status == "confirmed",
                Checkpoint.chain_id == chain_id,
                Checkpoint.contract_address == address,
                Checkpoint.number == number,
            )
        )
    )


def latest_live(session: Session) -> Checkpoint | None:
    """The latest checkpoint recorded that is not failed or lost."""
    return session.scalar(
        select(Checkpoint)
        .where(Checkpoint.status.in_(LIVE))
        .order_by(Checkpoint.id.desc())
        .limit(1)
    )


def given_up_with_tree(
    session: Session, chain_id: int, address: str, tree_size: int, root: bytes
) -> Checkpoint | None:
    """The newest lost or failed checkpoint of this contract with this tree."""
    return session.scalar(
        select(Checkpoint)
        .where(
            Checkpoint.status.in_(("lost", "failed")),
            Checkpoint.chain_id == chain_id,
            Checkpoint.contract_address == address,
            Checkpoint.tree_size == tree_size,
            Checkpoint.root == root,
        )
        .order_by(Checkpoint.id.desc())
        .limit(1)
    )


def largest_live_size(session: Session, chain_id: int, address: str) -> int | None:
    """The largest tree on, or on its way to, this contract."""
    return session.scalar(
        select(func.max(Checkpoint.tree_size)).where(
            Checkpoint.status.in_(LIVE),
            Checkpoint.chain_id == chain_id,
            Checkpoint.contract_address == address,
        )
    )


def smallest_lost_above(session: Session, chain_id: int, tree_size: int) -> Checkpoint | None:
    """The smallest lost tree on this chain larger than ``tree_size``."""
    return session.scalar(
        select(Checkpoint)
        .where(
            Checkpoint.status == "lost",
            Checkpoint.chain_id == chain_id,
            Checkpoint.tree_size > tree_size,
        )
        .order_by(Checkpoint.tree_size, Checkpoint.id)
        .limit(1)
    )


def latest_within(session: Session, tree_size: int) -> Checkpoint | None:
    """The latest checkpoint of at most this tree size, whatever its status (its totals are
    those of its tree, whether or not a chain holds it)."""
    return session.scalar(
        select(Checkpoint)
        .where(Checkpoint.tree_size <= tree_size)
        .order_by(Checkpoint.tree_size.desc(), Checkpoint.id.desc())
        .limit(1)
    )

"""The log in the database: sequencing queued sources into leaves, tree heads and proofs.

Sequencing is decoupled from ingestion (as in Certificate Transparency): writers only append to
``log_queue`` in their own transaction; the sequencer takes what has committed, in queue order,
gives it consecutive leaf indices and stores the new complete-subtree hashes, all in one
transaction under a row lock on ``log_state`` (one sequencer at a time, across replicas).
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from app.core.db import bulk_insert, utcnow
from app.ledger.models import LogEntry, LogState, MerkleNode
from app.ledger.sources import Source, batch_leaves, build_leaves, import_reading_leaves
from app.outbox import service as outbox
from app.pure import merkle
from app.pure.compact_range import right_edge

STATE_ID = 1
T = TypeVar("T")


class NodeReader:
    """``get_node`` for the pure Merkle code, reading stored complete subtrees (with a cache
    for the duration of one operation)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.cache: dict[tuple[int, int], bytes] = {}
        self.reads = 0

    def prefetch(self, keys: Iterable[tuple[int, int]]) -> None:
        wanted = [k for k in keys if k not in self.cache]
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            self.reads += 1
            for level, index, h in self.session.execute(
                select(MerkleNode.level, MerkleNode.index, MerkleNode.hash).where(
                    tuple_(MerkleNode.level, MerkleNode.index).in_(chunk)
                )
            ):
                self.cache[(level, index)] = h

    def __call__(self, level: int, index: int) -> bytes:
        key = (level, index)
        if key not in self.cache:
            self.reads += 1
            h = self.session.scalar(
                select(MerkleNode.hash).where(MerkleNode.level == level, MerkleNode.index == index)
            )
            if h is None:
                raise LookupError(f"merkle node {key} is not stored")
            self.cache[key] = h
        return self.cache[key]


def tree_size(session: Session, lock: bool = False) -> int:
    query = select(LogState).where(LogState.id == STATE_ID)
    state = session.scalar(query.with_for_update() if lock else query)
    if state is None:
        if not lock:
            return 0
        session.add(LogState(id=STATE_ID, tree_size=0))
        session.flush()
        state = session.scalar(query.with_for_update())
        assert state is not None
    return state.tree_size


@dataclass(frozen=True)
class SequenceReport:
    leaves: int
    tree_size: int


def sequence(
    session: Session, max_queue_items: int = 2000, now: datetime | None = None
) -> SequenceReport:
    """Move up to ``max_queue_items`` queued sources into the log. Commits."""
    now = now or utcnow()
    size = tree_size(session, lock=True)
    items = outbox.oldest(session, max_queue_items)
    if not items:
        session.rollback()
        return SequenceReport(0, size)

    leaves: list[tuple[Source, bytes]] = []
    # Queued groups of readings: ("batch", batch id) or ("import_readings", import id).
    pending_groups: list[tuple[str, int]] = []
    others: list[Source] = []

    def flush_others() -> None:
        # A source enters the log once, even if it was queued twice.
        logged = _already_logged(session, others)
        fresh_sources = [s for s in dict.fromkeys(others) if s not in logged]
        built = build_leaves(session, fresh_sources)
        leaves.extend((s, built[s]) for s in fresh_sources if s in built)
        others.clear()

    def flush_groups() -> None:
        # A group's readings enter the log together: if its first is there, all of them are.
        groups = list(dict.fromkeys(pending_groups))
        rows: dict[tuple[str, int], list[tuple[Source, bytes]]] = {g: [] for g in groups}
        batches = [ref for kind, ref in groups if kind == "batch"]
        for batch_id, source, data in batch_leaves(session, batches):
            rows[("batch", batch_id)].append((source, data))
        imported = [ref for kind, ref in groups if kind == "import_readings"]
        for import_id, source, data in import_reading_leaves(session, imported):
            rows[("import_readings", import_id)].append((source, data))
        firsts = [group_rows[0][0] for group_rows in rows.values() if group_rows]
        logged = _already_logged(session, firsts)
        for group in groups:
            if rows[group] and rows[group][0][0] not in logged:
                leaves.extend(rows[group])
        pending_groups.clear()

    # Keep queue order across kinds: collect runs of one kind and build them in bulk.
    for item in items:
        if item.kind in ("batch", "import_readings"):
            flush_others()
            pending_groups.append((item.kind, item.ref_id))
        else:
            flush_groups()
            others.append((item.kind, item.ref_id))
    flush_others()
    flush_groups()
    fresh = list(dict(leaves).items())  # the same source twice in one round: once

    reader = NodeReader(session)
    reader.prefetch(right_edge(size))
    nodes = merkle.append(reader, size, (merkle.leaf_hash(data) for _, data in fresh))
    if fresh:
        bulk_insert(
            session,
            LogEntry.__table__,
            [
                {"leaf_index": size + i, "kind": s[0], "ref_id": s[1], "sequenced_at": now}
                for i, (s, _) in enumerate(fresh)
            ],
        )
        bulk_insert(
            session,
            MerkleNode.__table__,
            [{"level": lv, "index": ix, "hash": h} for lv, ix, h in nodes],
        )
    new_size = size + len(fresh)
    state = session.get(LogState, STATE_ID)
    assert state is not None
    state.tree_size = new_size
    outbox.remove(session, items)
    session.commit()
    return SequenceReport(len(fresh), new_size)


def _already_logged(session: Session, sources: list[Source]) -> set[Source]:
    """Which of these sources have a leaf already (one indexed lookup per kind and chunk)."""
    by_kind: dict[str, list[int]] = {}
    for kind, ref_id in sources:
        by_kind.setdefault(kind, []).append(ref_id)
    found: set[Source] = set()
    for kind, ids in by_kind.items():
        for i in range(0, len(ids), 1000):
            found |= {
                (kind, ref_id)
                for ref_id in session.scalars(
                    select(LogEntry.ref_id).where(
                        LogEntry.kind == kind, LogEntry.ref_id.in_(ids[i : i + 1000])
                    )
                )
            }
    return found


def _prefetched(session: Session, compute: Callable[[merkle.GetNode], T]) -> T:
    """Run a tree computation with every stored hash it needs fetched in one query: the nodes
    a proof or a tree head visits depend only on the sizes and indices, not on hash values, so
    a dry run with placeholder hashes lists them."""
    wanted: list[tuple[int, int]] = []

    def record(level: int, index: int) -> bytes:
        wanted.append((level, index))
        return bytes(32)

    compute(record)
    reader = NodeReader(session)
    reader.prefetch(wanted)
    return compute(reader)


def root(session: Session, size: int) -> bytes:
    return _prefetched(session, lambda get: merkle.root(get, size))


def leaf_index_of(session: Session, kind: str, ref_id: int) -> int | None:
    return session.scalar(
        select(LogEntry.leaf_index).where(LogEntry.kind == kind, LogEntry.ref_id == ref_id)
    )


def entries(session: Session, first: int, last_exclusive: int) -> list[LogEntry]:
    return list(
        session.scalars(
            select(LogEntry)
            .where(LogEntry.leaf_index >= first, LogEntry.leaf_index < last_exclusive)
            .order_by(LogEntry.leaf_index)
        )
    )


def inclusion_proof(session: Session, index: int, size: int) -> list[bytes]:
    return _prefetched(session, lambda get: merkle.inclusion_proof(get, index, size))


def consistency_proof(session: Session, size1: int, size2: int) -> list[bytes]:
    return _prefetched(session, lambda get: merkle.consistency_proof(get, size1, size2))

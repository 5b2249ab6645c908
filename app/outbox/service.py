"""The outbox every domain writes, in its own transaction, to put a row into the log; the
ledger's sequencer drains it. It sits below the domains so that none of them imports the ledger.
"""

from dataclasses import dataclass

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.outbox.models import LogQueue
from app.pure.encoding import LEAF_TYPES

# A queued signed batch stands for its readings, a queued ``import_readings`` for the readings of
# an import (queued after its ``import``); every other kind is a leaf type of its own.
QUEUE_KINDS = ("batch", "import_readings", *(t for t in LEAF_TYPES if t != "reading"))


@dataclass(frozen=True)
class QueuedItem:
    id: int
    kind: str
    ref_id: int


def enqueue(session: Session, kind: str, ref_ids: list[int]) -> None:
    if kind not in QUEUE_KINDS:
        raise ValueError(f"unknown log source kind {kind!r}")
    if ref_ids:
        now = utcnow()
        session.execute(
            insert(LogQueue), [{"kind": kind, "ref_id": r, "enqueued_at": now} for r in ref_ids]
        )


def oldest(session: Session, limit: int) -> list[QueuedItem]:
    """The ``limit`` oldest items, in the order they were queued."""
    rows = session.execute(
        select(LogQueue.id, LogQueue.kind, LogQueue.ref_id).order_by(LogQueue.id).limit(limit)
    )
    return [QueuedItem(*row) for row in rows]


def remove(session: Session, items: list[QueuedItem]) -> None:
    """Drops items once they are in the log (in the caller's transaction)."""
    session.execute(delete(LogQueue).where(LogQueue.id.in_([i.id for i in items])))

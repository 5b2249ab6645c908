"""What other domains call to put something into the log: in their own transaction."""

from sqlalchemy import insert
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.ledger.encoding import LEAF_TYPES
from app.ledger.models import LogQueue

# A queued signed batch stands for its readings; every other kind is a leaf type of its own.
QUEUE_KINDS = ("batch", *(t for t in LEAF_TYPES if t != "reading"))


def enqueue(session: Session, kind: str, ref_ids: list[int]) -> None:
    if kind not in QUEUE_KINDS:
        raise ValueError(f"unknown log source kind {kind!r}")
    if ref_ids:
        now = utcnow()
        session.execute(
            insert(LogQueue), [{"kind": kind, "ref_id": r, "enqueued_at": now} for r in ref_ids]
        )

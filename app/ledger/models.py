"""Log tables: the queue of what still has to enter the log, the leaves' index, the stored
complete-subtree hashes, and the log's size."""

from datetime import datetime

from sqlalchemy import BigInteger, Integer, LargeBinary, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigId, UtcDateTime


class LogQueue(Base):
    """Written in the same transaction as the thing it names; the sequencer drains it. A
    ``batch`` item stands for all readings a signed batch stored (one row per batch, not per
    reading, keeps ingestion cheap)."""

    __tablename__ = "log_queue"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    ref_id: Mapped[int] = mapped_column(BigInteger)
    enqueued_at: Mapped[datetime] = mapped_column(UtcDateTime)


class LogEntry(Base):
    """Leaf ``leaf_index`` of the log is the canonical encoding of source ``(kind, ref_id)``.
    The bytes are not stored: they are rebuilt from the source rows, so a source row changed
    after the fact no longer matches its leaf hash (and the anchored root)."""

    __tablename__ = "log_entry"

    leaf_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(32))
    ref_id: Mapped[int] = mapped_column(BigInteger)
    sequenced_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (UniqueConstraint("kind", "ref_id"),)


class MerkleNode(Base):
    """Hash of the complete subtree of 2**level leaves starting at leaf index * 2**level
    (level 0: the leaf hashes)."""

    __tablename__ = "merkle_node"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LogState(Base):
    """One row: the number of leaves sequenced. Row-locked by the sequencer."""

    __tablename__ = "log_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    tree_size: Mapped[int] = mapped_column(BigInteger)

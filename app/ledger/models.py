"""Log tables: the leaves' index, the stored complete-subtree hashes, the log's size and
checkpoints. (What still has to enter the log waits in app.outbox.)"""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigId, UtcDateTime


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


NOT_LOST = "status <> 'lost'"


class Checkpoint(Base):
    """A checkpoint of the log on its way to the chain.

    Life cycle: ``pending`` (recorded with its signed transaction *before* anything is sent, so a
    crash can never lose it) -> ``sent`` -> ``confirmed`` (mined, enough confirmations, and read
    back from the contract), or ``failed`` (reverted or replaced; a new checkpoint follows).
    A confirmed checkpoint the chain no longer holds becomes ``lost`` (kept, with the reason in
    ``error``); its tree is anchored again as a new row. ``number`` is the contract's number,
    held by one row at most apart from lost ones.
    """

    __tablename__ = "checkpoint"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    closes_at: Mapped[datetime] = mapped_column(UtcDateTime)
    methodology_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    totals_json: Mapped[str] = mapped_column(Text)  # [[bond_id, reduction_wh, co2_avoided_g]]
    status: Mapped[str] = mapped_column(String(16))
    chain_id: Mapped[int] = mapped_column(BigInteger)
    contract_address: Mapped[str] = mapped_column(String(42))
    nonce: Mapped[int] = mapped_column(BigInteger)
    raw_tx: Mapped[bytes] = mapped_column(LargeBinary)
    tx_hash: Mapped[str] = mapped_column(String(66))
    number: Mapped[int | None] = mapped_column(BigInteger)  # the contract's checkpoint number
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'sent', 'confirmed', 'failed', 'lost')", name="status_known"
        ),
        # Finds the first confirmed checkpoint covering a leaf (investor anchoring status).
        Index("ix_checkpoint_status_tree_size", "status", "tree_size"),
        Index(
            "uq_checkpoint_contract_number",
            "chain_id",
            "contract_address",
            "number",
            unique=True,
            sqlite_where=text(NOT_LOST),
            postgresql_where=text(NOT_LOST),
        ),
    )


class ChainDeployment(Base):
    """The registry contract this service anchors to, per chain (deployed on first start when
    no address is configured)."""

    __tablename__ = "chain_deployment"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    contract_address: Mapped[str] = mapped_column(String(42))
    deployed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class IntegrityMark(Base):
    """One row: the confirmed checkpoint up to whose tree size the integrity check last verified
    every leaf, stored node and signed batch. The next incremental check re-derives that
    checkpoint's root (read from the chain, not from here) from the stored nodes and verifies
    only what was logged after it. Rewriting this row can only make a check start later; the
    full check ignores it."""

    __tablename__ = "integrity_mark"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    contract_address: Mapped[str] = mapped_column(String(42))
    number: Mapped[int] = mapped_column(BigInteger)
    tree_size: Mapped[int] = mapped_column(BigInteger)
    verified_at: Mapped[datetime] = mapped_column(UtcDateTime)

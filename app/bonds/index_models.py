"""The token indexer's own tables: each token's block cursor, the hashes of the blocks it read
(to notice a reorg) and the position history (every account's holding after each block whose
events touched it), from which holder snapshots at past blocks are answered.
docs/bond-token.md ("Indexer") explains how they move together."""

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigId, UtcDateTime


class TokenIndexCursor(Base):
    """How far a token is indexed: every event up to ``block_number`` is in its positions and
    history. Moved in the same transaction as the positions of each range, and back on a
    reorg. No row: nothing indexed yet (the indexer starts at the deployment block)."""

    __tablename__ = "token_index_cursor"

    token_id: Mapped[int] = mapped_column(ForeignKey("bond_token.id"), primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class TokenBlock(Base):
    """A block the indexer read for a token: each range's last block (the cursor's) and each
    block with the token's events. Its hash tells whether the chain still has it; its time
    places record dates. Only the newest ones are kept (the reorg window)."""

    __tablename__ = "token_block"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("bond_token.id"))
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(String(66))
    block_time: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (UniqueConstraint("token_id", "block_number", name="one_row_per_block"),)


class TokenPositionChange(Base):
    """An account's holding right after block ``block_number``, re-read from the contract at
    that block (``holdingOf``), for every block whose events touched the account. The latest
    row of an account is its TokenPosition; the latest row at or before a block is its
    position then."""

    __tablename__ = "token_position_change"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("bond_token.id"))
    account: Mapped[str] = mapped_column(String(42))
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_time: Mapped[datetime] = mapped_column(UtcDateTime)
    balance_units: Mapped[int] = mapped_column(BigInteger)
    locked_units: Mapped[int] = mapped_column(BigInteger)
    pending_units: Mapped[int] = mapped_column(BigInteger)
    # Block time at which the holding then held had begun (None while it holds nothing).
    acquired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        UniqueConstraint("token_id", "account", "block_number", name="one_change_per_block"),
        # Rewinding after a reorg deletes by block.
        Index("ix_token_position_change_token_block", "token_id", "block_number"),
        CheckConstraint(
            "balance_units >= 0 AND locked_units >= 0 AND pending_units >= 0",
            name="units_not_negative",
        ),
    )

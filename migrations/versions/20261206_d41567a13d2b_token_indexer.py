"""token indexer

The bond token indexer's block cursor per token, the hashes and times of the blocks it read
(reorg detection, record dates) and the position history (holder snapshots at past blocks).

Revision ID: d41567a13d2b
Revises: 4d8a6f2c1e93
Create Date: 2026-12-07 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d41567a13d2b"
down_revision: str | None = "4d8a6f2c1e93"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "token_index_cursor",
        sa.Column("token_id", ID, nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["token_id"], ["bond_token.id"], name=op.f("fk_token_index_cursor_token_id_bond_token")
        ),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_token_index_cursor")),
    )
    op.create_table(
        "token_block",
        sa.Column("id", ID, nullable=False),
        sa.Column("token_id", ID, nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("block_time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["token_id"], ["bond_token.id"], name=op.f("fk_token_block_token_id_bond_token")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_token_block")),
        sa.UniqueConstraint("token_id", "block_number", name="one_row_per_block"),
    )
    op.create_table(
        "token_position_change",
        sa.Column("id", ID, nullable=False),
        sa.Column("token_id", ID, nullable=False),
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("balance_units", sa.BigInteger(), nullable=False),
        sa.Column("locked_units", sa.BigInteger(), nullable=False),
        sa.Column("pending_units", sa.BigInteger(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "balance_units >= 0 AND locked_units >= 0 AND pending_units >= 0",
            name=op.f("ck_token_position_change_units_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["bond_token.id"],
            name=op.f("fk_token_position_change_token_id_bond_token"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_token_position_change")),
        sa.UniqueConstraint("token_id", "account", "block_number", name="one_change_per_block"),
    )
    op.create_index(
        "ix_token_position_change_token_block",
        "token_position_change",
        ["token_id", "block_number"],
    )


def downgrade() -> None:
    op.drop_index("ix_token_position_change_token_block", table_name="token_position_change")
    op.drop_table("token_position_change")
    op.drop_table("token_block")
    op.drop_table("token_index_cursor")

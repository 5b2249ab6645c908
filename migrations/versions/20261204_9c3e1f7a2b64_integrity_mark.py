"""integrity mark

The integrity check remembers up to which confirmed checkpoint it verified every leaf, stored
node and signed batch, so its default (incremental) run verifies only what was logged since.

Revision ID: 9c3e1f7a2b64
Revises: 3f6a1c9e2b7d
Create Date: 2026-12-04 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9c3e1f7a2b64"
down_revision: str | None = "3f6a1c9e2b7d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "integrity_mark",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("contract_address", sa.String(length=42), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integrity_mark")),
    )


def downgrade() -> None:
    op.drop_table("integrity_mark")

"""checkpoint covering index

The investor series finds the first confirmed checkpoint covering each result leaf with one
index probe per leaf.

Revision ID: 5813d54ffca7
Revises: 6c2dd9cb2ae9
Create Date: 2026-11-22 02:39:59.888483
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5813d54ffca7"
down_revision: str | None = "6c2dd9cb2ae9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("checkpoint", schema=None) as batch_op:
        batch_op.create_index(
            "ix_checkpoint_status_tree_size", ["status", "tree_size"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("checkpoint", schema=None) as batch_op:
        batch_op.drop_index("ix_checkpoint_status_tree_size")

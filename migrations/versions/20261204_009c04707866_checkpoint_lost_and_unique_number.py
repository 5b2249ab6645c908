"""checkpoint lost status and unique contract number

A confirmed checkpoint the chain no longer holds becomes ``lost`` (kept, never deleted) and its
tree is anchored again; a contract number is held by one row at most apart from lost ones
(partial unique index). Rows written before this revision may hold a number twice (a number
reused after the chain lost a checkpoint): the older rows become ``lost``, and the anchor job's
first run compares the rest with the contract.

Revision ID: 009c04707866
Revises: 9c3e1f7a2b64
Create Date: 2026-12-04 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "009c04707866"
down_revision: str | None = "9c3e1f7a2b64"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOT_LOST = "status <> 'lost'"


def _status_check(statuses: str) -> None:
    with op.batch_alter_table("checkpoint", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_checkpoint_status_known"), type_="check")
        batch_op.create_check_constraint("status_known", f"status IN ({statuses})")


def upgrade() -> None:
    _status_check("'pending', 'sent', 'confirmed', 'failed', 'lost'")
    op.execute(
        """
        UPDATE checkpoint SET status = 'lost',
            error = 'the same contract number as a later checkpoint (found on upgrade)'
        WHERE status <> 'lost' AND number IS NOT NULL AND EXISTS (
            SELECT 1 FROM checkpoint AS later
            WHERE later.chain_id = checkpoint.chain_id
              AND later.contract_address = checkpoint.contract_address
              AND later.number = checkpoint.number
              AND later.status <> 'lost'
              AND later.id > checkpoint.id
        )
        """
    )
    op.create_index(
        "uq_checkpoint_contract_number",
        "checkpoint",
        ["chain_id", "contract_address", "number"],
        unique=True,
        sqlite_where=sa.text(NOT_LOST),
        postgresql_where=sa.text(NOT_LOST),
    )


def downgrade() -> None:
    op.drop_index("uq_checkpoint_contract_number", table_name="checkpoint")
    op.execute("UPDATE checkpoint SET status = 'failed' WHERE status = 'lost'")
    _status_check("'pending', 'sent', 'confirmed', 'failed'")

"""meter day attested

A meter day records whether some of its readings were imported by the issuer (not signed by the
meter), so day results can flag ``issuer_attested`` data.

Revision ID: 3c9e5a1d7f20
Revises: 8d2f6b1c3a57
Create Date: 2026-12-07 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3c9e5a1d7f20"
down_revision: str | None = "8d2f6b1c3a57"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("meter_day") as batch:
        batch.add_column(
            sa.Column("attested", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("meter_day") as batch:
        batch.drop_column("attested")

"""meter installed_at

When a meter was installed: readings whose interval starts earlier are refused. Nullable:
meters registered before have none (their readings are bounded by GBT_INGEST_EARLIEST_READING).

Revision ID: 3f6a1c9e2b7d
Revises: 5813d54ffca7
Create Date: 2026-12-04 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3f6a1c9e2b7d"
down_revision: str | None = "5813d54ffca7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("meter") as batch:
        batch.add_column(sa.Column("installed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("meter") as batch:
        batch.drop_column("installed_at")

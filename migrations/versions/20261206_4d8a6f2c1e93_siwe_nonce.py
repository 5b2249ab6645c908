"""siwe nonce

The nonces handed out for investors' Sign-In with Ethereum messages (issue 13): each redeemed
by one sign-in at most, before it expires.

Revision ID: 4d8a6f2c1e93
Revises: b525f61bf297
Create Date: 2026-12-06 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4d8a6f2c1e93"
down_revision: str | None = "b525f61bf297"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "siwe_nonce",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_siwe_nonce")),
    )
    op.create_index(op.f("ix_siwe_nonce_expires_at"), "siwe_nonce", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_siwe_nonce_expires_at"), table_name="siwe_nonce")
    op.drop_table("siwe_nonce")

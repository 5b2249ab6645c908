"""bond token and token positions

A bond's GreenBondToken deployment (one per bond) and the holders' positions the token
indexer keeps (issue 13).

Revision ID: 7b1e5c2d9a40
Revises: 009c04707866
Create Date: 2026-12-06 00:24:36.648119
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7b1e5c2d9a40"
down_revision: str | None = "009c04707866"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bond_token",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("bond_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("contract_address", sa.String(length=42), nullable=False),
        sa.Column("personal_info_address", sa.String(length=42), nullable=False),
        sa.Column("impact_registry_address", sa.String(length=42), nullable=False),
        sa.Column("issuer_address", sa.String(length=42), nullable=False),
        sa.Column("deploy_tx_hash", sa.String(length=66), nullable=False),
        sa.Column("deployed_block", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["bond_id"], ["bond.id"], name=op.f("fk_bond_token_bond_id_bond")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bond_token")),
        sa.UniqueConstraint("bond_id", name=op.f("uq_bond_token_bond_id")),
    )
    op.create_table(
        "token_position",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("token_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("balance_units", sa.BigInteger(), nullable=False),
        sa.Column("locked_units", sa.BigInteger(), nullable=False),
        sa.Column("pending_units", sa.BigInteger(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "balance_units >= 0 AND locked_units >= 0 AND pending_units >= 0",
            name=op.f("ck_token_position_units_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["token_id"], ["bond_token.id"], name=op.f("fk_token_position_token_id_bond_token")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_token_position")),
        sa.UniqueConstraint("token_id", "account", name="one_position_per_account"),
    )


def downgrade() -> None:
    op.drop_table("token_position")
    op.drop_table("bond_token")

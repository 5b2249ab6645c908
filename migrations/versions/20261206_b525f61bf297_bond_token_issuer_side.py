"""bond token: the issuer's side

The issuer's encryption public key, the PersonalInfo register per chain, and every transaction
the service signs as the bond tokens' issuer, recorded before it is sent (issue 13).

Revision ID: b525f61bf297
Revises: 7b1e5c2d9a40
Create Date: 2026-12-07 00:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b525f61bf297"
down_revision: str | None = "7b1e5c2d9a40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "issuer_key",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("public_key_pem", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("key_bits", sa.Integer(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issuer_key")),
    )
    op.create_table(
        "personal_info_contract",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("contract_address", sa.String(length=42), nullable=False),
        sa.Column("deploy_tx_hash", sa.String(length=66), nullable=False),
        sa.Column("deployed_block", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", name=op.f("pk_personal_info_contract")),
    )
    op.create_table(
        "issuer_tx",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("bond_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("operation", sa.String(length=32), nullable=False),
        sa.Column("op_key", sa.String(length=128), nullable=True),
        sa.Column("request_json", sa.Text(), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("nonce", sa.BigInteger(), nullable=False),
        sa.Column("raw_tx", sa.LargeBinary(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("contract_address", sa.String(length=42), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'confirmed', 'reverted', 'dropped')",
            name=op.f("ck_issuer_tx_status_known"),
        ),
        sa.ForeignKeyConstraint(["bond_id"], ["bond.id"], name=op.f("fk_issuer_tx_bond_id_bond")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issuer_tx")),
        sa.UniqueConstraint("bond_id", "operation", "op_key", name="one_tx_per_key"),
    )
    op.create_index("ix_issuer_tx_status", "issuer_tx", ["status"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_issuer_tx_status", table_name="issuer_tx")
    op.drop_table("issuer_tx")
    op.drop_table("personal_info_contract")
    op.drop_table("issuer_key")

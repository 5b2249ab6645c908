"""carbon credits

Credit projects, monitoring reports and their verifier decisions, the CarbonCredit contract of a
chain, issuances, and the contract's indexed events with the indexer's cursor and block hashes
(docs/credits.md).

Revision ID: 9b4e7c2a1f63
Revises: 3c9e5a1d7f20
Create Date: 2026-12-06 05:56:27.984445
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9b4e7c2a1f63"
down_revision: str | None = "3c9e5a1d7f20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "credit_contract",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("contract_address", sa.String(length=42), nullable=False),
        sa.Column("registry_address", sa.String(length=42), nullable=False),
        sa.Column("deploy_tx_hash", sa.String(length=66), nullable=False),
        sa.Column("deployed_block", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", name=op.f("pk_credit_contract")),
    )
    op.create_table(
        "credit_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("contract_address", sa.String(length=42), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("block_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("entry", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("token_id", sa.BigInteger(), nullable=False),
        sa.Column("from_address", sa.String(length=42), nullable=True),
        sa.Column("to_address", sa.String(length=42), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=True),
        sa.Column("details_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_event")),
        sa.UniqueConstraint("chain_id", "tx_hash", "log_index", "entry", name="one_row_per_entry"),
    )
    with op.batch_alter_table("credit_event", schema=None) as batch_op:
        batch_op.create_index(
            "ix_credit_event_contract_block",
            ["chain_id", "contract_address", "block_number"],
            unique=False,
        )
        batch_op.create_index("ix_credit_event_token", ["token_id"], unique=False)

    op.create_table(
        "credit_block",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("block_time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chain_id"],
            ["credit_contract.chain_id"],
            name=op.f("fk_credit_block_chain_id_credit_contract"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_block")),
        sa.UniqueConstraint("chain_id", "block_number", name="one_credit_block"),
    )
    op.create_table(
        "credit_index_cursor",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chain_id"],
            ["credit_contract.chain_id"],
            name=op.f("fk_credit_index_cursor_chain_id_credit_contract"),
        ),
        sa.PrimaryKeyConstraint("chain_id", name=op.f("pk_credit_index_cursor")),
    )
    op.create_table(
        "credit_project",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("asset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("methodology_id", sa.String(length=64), nullable=False),
        sa.Column("methodology_title", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["green_asset.id"], name=op.f("fk_credit_project_asset_id_green_asset")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_project")),
        sa.UniqueConstraint("asset_id", name=op.f("uq_credit_project_asset_id")),
        sa.UniqueConstraint("code", name=op.f("uq_credit_project_code")),
    )
    op.create_table(
        "monitoring_report",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("methodology_id", sa.String(length=64), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("checkpoint_number", sa.BigInteger(), nullable=False),
        sa.Column("checkpoint_tree_size", sa.BigInteger(), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("content_json", sa.Text(), nullable=False),
        sa.Column("reductions_g", sa.BigInteger(), nullable=False),
        sa.Column("reductions_t", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "first_day <= last_day", name=op.f("ck_monitoring_report_period_ordered")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["credit_project.id"],
            name=op.f("fk_monitoring_report_project_id_credit_project"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_report")),
        sa.UniqueConstraint("content_sha256", name=op.f("uq_monitoring_report_content_sha256")),
    )
    with op.batch_alter_table("monitoring_report", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitoring_report_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "credit_issuance",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "report_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("asset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("contract_address", sa.String(length=42), nullable=False),
        sa.Column("chain_issuance_id", sa.BigInteger(), nullable=False),
        sa.Column("token_id", sa.BigInteger(), nullable=False),
        sa.Column("vintage", sa.Integer(), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("amount_t", sa.BigInteger(), nullable=False),
        sa.Column("serial_first", sa.BigInteger(), nullable=False),
        sa.Column("serial_last", sa.BigInteger(), nullable=False),
        sa.Column("to_address", sa.String(length=42), nullable=False),
        sa.Column("checkpoint_number", sa.BigInteger(), nullable=False),
        sa.Column("approval_leaf_hash", sa.String(length=64), nullable=False),
        sa.Column("reductions_g", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["green_asset.id"], name=op.f("fk_credit_issuance_asset_id_green_asset")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["credit_project.id"],
            name=op.f("fk_credit_issuance_project_id_credit_project"),
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["monitoring_report.id"],
            name=op.f("fk_credit_issuance_report_id_monitoring_report"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_issuance")),
        sa.UniqueConstraint(
            "chain_id", "contract_address", "chain_issuance_id", name="one_per_event"
        ),
        sa.UniqueConstraint("report_id", name=op.f("uq_credit_issuance_report_id")),
    )
    with op.batch_alter_table("credit_issuance", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_credit_issuance_asset_id"), ["asset_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_credit_issuance_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "monitoring_approval",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "report_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("verifier", sa.String(length=100), nullable=False),
        sa.Column("verifier_key_sha256", sa.String(length=64), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "decision IN ('approved', 'rejected')",
            name=op.f("ck_monitoring_approval_decision_known"),
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["monitoring_report.id"],
            name=op.f("fk_monitoring_approval_report_id_monitoring_report"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_approval")),
        sa.UniqueConstraint("report_id", name=op.f("uq_monitoring_approval_report_id")),
    )


def downgrade() -> None:
    op.drop_table("monitoring_approval")
    with op.batch_alter_table("credit_issuance", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credit_issuance_project_id"))
        batch_op.drop_index(batch_op.f("ix_credit_issuance_asset_id"))

    op.drop_table("credit_issuance")
    with op.batch_alter_table("monitoring_report", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitoring_report_project_id"))

    op.drop_table("monitoring_report")
    op.drop_table("credit_project")
    op.drop_table("credit_index_cursor")
    op.drop_table("credit_block")
    with op.batch_alter_table("credit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_credit_event_token")
        batch_op.drop_index("ix_credit_event_contract_block")

    op.drop_table("credit_event")
    op.drop_table("credit_contract")

"""historical imports: reading_import, billing_period, readings that name an import

Issuer-attested historical data (docs/ingest-signing.md, "Historical imports"): the imported
files, the bills of billing-period files, and a reading's ``import_id`` (a reading names its
signed batch or its import, exactly one).

Revision ID: 6a2f9d4c8b15
Revises: 5e0c2a7f4b11
Create Date: 2026-12-07 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6a2f9d4c8b15"
down_revision: str | None = "5e0c2a7f4b11"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "reading_import",
        sa.Column("id", ID, nullable=False),
        sa.Column("meter_id", ID, nullable=False),
        sa.Column("sha256", sa.LargeBinary(length=32), nullable=False),
        sa.Column("format", sa.String(length=32), nullable=False),
        sa.Column("imported_by", sa.String(length=200), nullable=False),
        sa.Column("imported_by_person", sa.String(length=200), nullable=True),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("conflict_count", sa.Integer(), nullable=False),
        sa.Column("duplicate_count", sa.Integer(), nullable=False),
        sa.Column("first_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_end", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meter.id"], name=op.f("fk_reading_import_meter_id_meter")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reading_import")),
        sa.UniqueConstraint("meter_id", "sha256", name=op.f("uq_reading_import_meter_id_sha256")),
    )
    op.create_table(
        "billing_period",
        sa.Column("id", ID, nullable=False),
        sa.Column("meter_id", ID, nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("energy_wh", sa.BigInteger(), nullable=False),
        sa.Column("import_id", ID, nullable=False),
        sa.CheckConstraint(
            "period_end > period_start", name=op.f("ck_billing_period_period_not_empty")
        ),
        sa.CheckConstraint("energy_wh >= 0", name=op.f("ck_billing_period_energy_not_negative")),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meter.id"], name=op.f("fk_billing_period_meter_id_meter")
        ),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["reading_import.id"],
            name=op.f("fk_billing_period_import_id_reading_import"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_period")),
    )
    op.create_index(
        op.f("ix_billing_period_meter_id"), "billing_period", ["meter_id"], unique=False
    )
    op.create_index(
        op.f("ix_billing_period_import_id"), "billing_period", ["import_id"], unique=False
    )
    with op.batch_alter_table("reading") as batch:
        batch.alter_column("batch_id", existing_type=ID, nullable=True)
        batch.add_column(sa.Column("import_id", ID, nullable=True))
        batch.create_foreign_key(
            op.f("fk_reading_import_id_reading_import"), "reading_import", ["import_id"], ["id"]
        )
        batch.create_index(op.f("ix_reading_import_id"), ["import_id"], unique=False)
        batch.create_check_constraint(
            op.f("ck_reading_signed_batch_or_import"),
            "(batch_id IS NULL) <> (import_id IS NULL)",
        )


def downgrade() -> None:
    with op.batch_alter_table("reading") as batch:
        batch.drop_constraint(op.f("ck_reading_signed_batch_or_import"), type_="check")
        batch.drop_index(op.f("ix_reading_import_id"))
        batch.drop_constraint(op.f("fk_reading_import_id_reading_import"), type_="foreignkey")
        batch.drop_column("import_id")
        batch.alter_column("batch_id", existing_type=ID, nullable=False)
    op.drop_index(op.f("ix_billing_period_import_id"), table_name="billing_period")
    op.drop_index(op.f("ix_billing_period_meter_id"), table_name="billing_period")
    op.drop_table("billing_period")
    op.drop_table("reading_import")

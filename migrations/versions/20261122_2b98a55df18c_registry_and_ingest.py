"""registry and ingest

Revision ID: 2b98a55df18c
Revises:
Create Date: 2026-11-22 00:06:14.651621
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2b98a55df18c"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bond",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("issuer", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_issued", sa.Numeric(precision=15, scale=2), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("maturity_date", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_issued >= 0", name=op.f("ck_bond_amount_issued_not_negative")),
        sa.CheckConstraint("maturity_date > issue_date", name=op.f("ck_bond_matures_after_issue")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bond")),
        sa.UniqueConstraint("code", name=op.f("uq_bond_code")),
    )
    op.create_table(
        "green_asset",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("floor_area_m2", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("grid_region", sa.String(length=64), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("commissioning_date", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('building', 'renewable_facility')", name=op.f("ck_green_asset_kind_known")
        ),
        sa.CheckConstraint(
            "floor_area_m2 IS NULL OR floor_area_m2 > 0",
            name=op.f("ck_green_asset_floor_area_positive"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_green_asset")),
        sa.UniqueConstraint("code", name=op.f("uq_green_asset_code")),
    )
    op.create_table(
        "allocation",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("bond_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("asset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("amount_allocated", sa.Numeric(precision=15, scale=2), nullable=False),
        sa.Column("financing_share", sa.Numeric(precision=9, scale=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_allocated >= 0", name=op.f("ck_allocation_amount_not_negative")),
        sa.CheckConstraint(
            "financing_share > 0 AND financing_share <= 1",
            name=op.f("ck_allocation_financing_share_in_range"),
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["green_asset.id"], name=op.f("fk_allocation_asset_id_green_asset")
        ),
        sa.ForeignKeyConstraint(["bond_id"], ["bond.id"], name=op.f("fk_allocation_bond_id_bond")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocation")),
        sa.UniqueConstraint("bond_id", "asset_id", name=op.f("uq_allocation_bond_id_asset_id")),
    )
    with op.batch_alter_table("allocation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_allocation_asset_id"), ["asset_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_allocation_bond_id"), ["bond_id"], unique=False)

    op.create_table(
        "meter",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("asset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("device_id", sa.String(length=128), nullable=False),
        sa.Column("quantity", sa.String(length=32), nullable=False),
        sa.Column("interval_s", sa.Integer(), nullable=False),
        sa.Column("public_key_hex", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "quantity IN ('consumption', 'generation', 'outdoor_temperature')",
            name=op.f("ck_meter_quantity_known"),
        ),
        sa.CheckConstraint("interval_s > 0", name=op.f("ck_meter_interval_positive")),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["green_asset.id"], name=op.f("fk_meter_asset_id_green_asset")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter")),
        sa.UniqueConstraint("device_id", name=op.f("uq_meter_device_id")),
    )
    with op.batch_alter_table("meter", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meter_asset_id"), ["asset_id"], unique=False)

    op.create_table(
        "ingest_batch",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("meter_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("payload_sha256", sa.LargeBinary(length=32), nullable=False),
        sa.Column("signature", sa.LargeBinary(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reading_count", sa.Integer(), nullable=False),
        sa.Column("accepted_count", sa.Integer(), nullable=False),
        sa.Column("duplicate_count", sa.Integer(), nullable=False),
        sa.Column("corrected_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meter.id"], name=op.f("fk_ingest_batch_meter_id_meter")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_batch")),
        sa.UniqueConstraint("meter_id", "sequence", name=op.f("uq_ingest_batch_meter_id_sequence")),
    )
    op.create_table(
        "reading",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("meter_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("energy_wh", sa.BigInteger(), nullable=True),
        sa.Column("temperature_centi_c", sa.Integer(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column(
            "supersedes_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("batch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.CheckConstraint(
            "(energy_wh IS NULL) <> (temperature_centi_c IS NULL)",
            name=op.f("ck_reading_exactly_one_value"),
        ),
        sa.CheckConstraint(
            "(revision = 0) = (supersedes_id IS NULL)",
            name=op.f("ck_reading_correction_names_superseded"),
        ),
        sa.CheckConstraint("end_at > start_at", name=op.f("ck_reading_interval_not_empty")),
        sa.CheckConstraint(
            "energy_wh IS NULL OR energy_wh >= 0", name=op.f("ck_reading_energy_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["ingest_batch.id"], name=op.f("fk_reading_batch_id_ingest_batch")
        ),
        sa.ForeignKeyConstraint(["meter_id"], ["meter.id"], name=op.f("fk_reading_meter_id_meter")),
        sa.ForeignKeyConstraint(
            ["supersedes_id"], ["reading.id"], name=op.f("fk_reading_supersedes_id_reading")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reading")),
        sa.UniqueConstraint(
            "meter_id", "start_at", "revision", name=op.f("uq_reading_meter_id_start_at_revision")
        ),
    )
    with op.batch_alter_table("reading", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reading_batch_id"), ["batch_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reading", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reading_batch_id"))

    op.drop_table("reading")
    op.drop_table("ingest_batch")
    with op.batch_alter_table("meter", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meter_asset_id"))

    op.drop_table("meter")
    with op.batch_alter_table("allocation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_allocation_bond_id"))
        batch_op.drop_index(batch_op.f("ix_allocation_asset_id"))

    op.drop_table("allocation")
    op.drop_table("green_asset")
    op.drop_table("bond")

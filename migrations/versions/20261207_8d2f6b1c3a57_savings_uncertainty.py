"""savings uncertainty (ASHRAE Guideline 14) on results and bond roll-ups

Each result's savings uncertainty at 68 % and 90 % confidence (null: none stated), and per bond
roll-up row the days that state one, their benchmark summed and the fit of the latest of them.
Existing rows state none (their results were computed before it existed).

Revision ID: 8d2f6b1c3a57
Revises: 6a2f9d4c8b15
Create Date: 2026-12-07 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8d2f6b1c3a57"
down_revision: str | None = "6a2f9d4c8b15"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("impact_result") as batch:
        batch.add_column(sa.Column("savings_uncertainty_68_wh", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("savings_uncertainty_90_wh", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("bond_asset_month") as batch:
        batch.add_column(
            sa.Column("uncertainty_days", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        batch.add_column(
            sa.Column(
                "uncertainty_benchmark_wh",
                sa.BigInteger(),
                nullable=False,
                server_default=sa.text("0"),
            )
        )
        batch.add_column(sa.Column("uncertainty_fit_id", ID, nullable=True))
        batch.create_foreign_key(
            "fk_bond_asset_month_uncertainty_fit_id_baseline_fit",
            "baseline_fit",
            ["uncertainty_fit_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("bond_asset_month") as batch:
        batch.drop_constraint(
            "fk_bond_asset_month_uncertainty_fit_id_baseline_fit", type_="foreignkey"
        )
        batch.drop_column("uncertainty_fit_id")
        batch.drop_column("uncertainty_benchmark_wh")
        batch.drop_column("uncertainty_days")
    with op.batch_alter_table("impact_result") as batch:
        batch.drop_column("savings_uncertainty_90_wh")
        batch.drop_column("savings_uncertainty_68_wh")

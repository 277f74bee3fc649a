"""Coverage roll-up: one row per channel per closed local day, and invalidation counters.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 14:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "coverage_days",
        sa.Column("channel_id", sa.String(length=20), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("recorded_s", sa.Float(), nullable=False),
        sa.Column("expected_s", sa.Float(), nullable=False),
        sa.Column("longest_gap_s", sa.Float(), nullable=False),
        sa.Column("gap_count", sa.Integer(), nullable=False),
        sa.Column("gaps", sa.JSON(), nullable=False),
        sa.Column("context_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("context_to", sa.DateTime(timezone=True), nullable=False),
        sa.Column("leads_with_gap", sa.Boolean(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel_id", "day", name=op.f("pk_coverage_days")),
    )
    op.create_table(
        "coverage_marks",
        sa.Column("channel_id", sa.String(length=20), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("channel_id", name=op.f("pk_coverage_marks")),
    )


def downgrade() -> None:
    op.drop_table("coverage_marks")
    op.drop_table("coverage_days")

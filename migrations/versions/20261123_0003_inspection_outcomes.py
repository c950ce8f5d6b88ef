"""inspection outcomes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 06:46:06.728847
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inspection_outcomes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("draw_id", sa.Integer(), nullable=False),
        sa.Column("unit_key", sa.String(length=64), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("inspected_on", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("log_index", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["draw_id"], ["draws.id"], name=op.f("fk_inspection_outcomes_draw_id_draws")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_outcomes")),
        sa.UniqueConstraint("draw_id", "uscc", name="uq_inspection_outcomes_unit"),
    )
    with op.batch_alter_table("inspection_outcomes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inspection_outcomes_draw_id"), ["draw_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("inspection_outcomes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inspection_outcomes_draw_id"))

    op.drop_table("inspection_outcomes")

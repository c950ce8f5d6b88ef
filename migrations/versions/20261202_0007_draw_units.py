"""drawn units as rows beside each finished draw's result

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 05:40:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    units = op.create_table('draw_units',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('draw_id', sa.Integer(), nullable=False),
    sa.Column('stratum', sa.String(length=64), nullable=False),
    sa.Column('unit_key', sa.String(length=64), nullable=False),
    sa.Column('uscc', sa.String(length=18), nullable=False),
    sa.Column('inspectors', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['draw_id'], ['draws.id'], name=op.f('fk_draw_units_draw_id_draws')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_draw_units')),
    sa.UniqueConstraint('draw_id', 'uscc', name='uq_draw_units_enterprise')
    )
    with op.batch_alter_table('draw_units', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_draw_units_draw_id'), ['draw_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_draw_units_uscc'), ['uscc'], unique=False)
    # The draws finished so far, from their committed frames and results.
    bind = op.get_bind()
    done = bind.execute(
        sa.text("SELECT id, frame_jcs, result_jcs FROM draws WHERE result_jcs IS NOT NULL")
    )
    rows = []
    for draw_id, frame_jcs, result_jcs in done:
        frame, result = json.loads(frame_jcs), json.loads(result_jcs)
        members = {
            u["key"]: u["attrs"].get("members", [u["key"]])
            for s in frame["strata"]
            for u in s["units"]
        }
        teams = {a["unit"]: a["inspectors"] for a in result.get("assignments") or []}
        rows += [
            {
                "draw_id": draw_id,
                "stratum": s["id"],
                "unit_key": u["key"],
                "uscc": code,
                "inspectors": teams.get(u["key"]),
            }
            for s in result["strata"]
            for u in s["selected"]
            for code in members[u["key"]]
        ]
    if rows:
        op.bulk_insert(units, rows)


def downgrade() -> None:
    with op.batch_alter_table('draw_units', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_draw_units_uscc'))
        batch_op.drop_index(batch_op.f('ix_draw_units_draw_id'))
    op.drop_table('draw_units')

"""dice+drand seed source, confirmed dice of a draw

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('draws', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dice', sa.JSON(), nullable=True))
        batch_op.alter_column(
            'seed_source', existing_type=sa.String(length=8), type_=sa.String(length=16)
        )


def downgrade() -> None:
    with op.batch_alter_table('draws', schema=None) as batch_op:
        batch_op.alter_column(
            'seed_source', existing_type=sa.String(length=16), type_=sa.String(length=8)
        )
        batch_op.drop_column('dice')

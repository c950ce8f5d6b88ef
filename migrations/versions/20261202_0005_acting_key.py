"""the acting API key on every change record and import batch

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 04:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('change_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('actor_key_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_change_records_actor_key_id_api_keys'), 'api_keys', ['actor_key_id'], ['id'])

    with op.batch_alter_table('import_batches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('actor_key_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_import_batches_actor_key_id_api_keys'), 'api_keys', ['actor_key_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('import_batches', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_import_batches_actor_key_id_api_keys'), type_='foreignkey')
        batch_op.drop_column('actor_key_id')

    with op.batch_alter_table('change_records', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_change_records_actor_key_id_api_keys'), type_='foreignkey')
        batch_op.drop_column('actor_key_id')

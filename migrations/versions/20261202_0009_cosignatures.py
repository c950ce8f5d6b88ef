"""witnesses' cosignatures of checkpoints (append-only) and the client's state per witness

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-02 10:00:00

The integrator sets down_revision to '0008' once 0008 (history append-only) is merged.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('log_cosignatures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('witness', sa.String(length=255), nullable=False),
    sa.Column('key_id', sa.String(length=8), nullable=False),
    sa.Column('timestamp', sa.BigInteger(), nullable=False),
    sa.Column('line', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['size'], ['log_checkpoints.size'], name=op.f('fk_log_cosignatures_size_log_checkpoints')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_log_cosignatures')),
    sa.UniqueConstraint('size', 'witness', 'key_id', name='uq_log_cosignatures')
    )
    with op.batch_alter_table('log_cosignatures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_log_cosignatures_size'), ['size'], unique=False)

    op.create_table('log_witness_state',
    sa.Column('vkey', sa.String(length=512), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('ahead_size', sa.BigInteger(), nullable=True),
    sa.Column('ahead_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('forked_size', sa.BigInteger(), nullable=True),
    sa.Column('forked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('next_attempt', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_ok', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('vkey', name=op.f('pk_log_witness_state'))
    )
    _append_only('log_cosignatures')


def _append_only(table: str) -> None:
    # As the log's own tables (0002): whoever holds the application's credentials
    # cannot change or remove a witness's signed statement.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION cosignature_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'cosignatures are append-only: % on % refused', TG_OP, TG_TABLE_NAME
                    USING ERRCODE = 'insufficient_privilege';
            END $$
            """
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION cosignature_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION cosignature_refuse_change()"
        )
        return
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, 'cosignatures are append-only: {action} on {table} refused'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS log_cosignatures_append_only ON log_cosignatures")
        op.execute("DROP TRIGGER IF EXISTS log_cosignatures_no_truncate ON log_cosignatures")
        op.execute("DROP FUNCTION IF EXISTS cosignature_refuse_change()")
    else:
        op.execute("DROP TRIGGER IF EXISTS log_cosignatures_no_update")
        op.execute("DROP TRIGGER IF EXISTS log_cosignatures_no_delete")
    op.drop_table('log_witness_state')
    with op.batch_alter_table('log_cosignatures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_log_cosignatures_size'))
    op.drop_table('log_cosignatures')

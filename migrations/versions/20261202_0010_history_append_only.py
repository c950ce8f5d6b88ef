"""history and ceremony records append-only; the log head only grows

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 17:00:00

As the log's own tables (0002, 0009): whoever holds the application's
credentials cannot change or remove a change record (who did what, when) or a
draw's unit rows (who was drawn), and cannot move the log head backwards or
delete it. The service writes the head in two ways only, both kept: the
append's `size = size + 1` and the lock's `size = size` (app/ledger/store.py).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECORDS = ("change_records", "draw_units")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION record_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'records are append-only: % on % refused', TG_OP, TG_TABLE_NAME
                    USING ERRCODE = 'insufficient_privilege';
            END $$
            """
        )
        for table in RECORDS:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION record_refuse_change()"
            )
        for table in (*RECORDS, "log_head"):
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION record_refuse_change()"
            )
        op.execute(
            """
            CREATE FUNCTION log_head_only_grows() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'DELETE' OR NEW.id <> OLD.id OR NEW.size < OLD.size THEN
                    RAISE EXCEPTION 'the log head only grows: % on log_head refused', TG_OP
                        USING ERRCODE = 'insufficient_privilege';
                END IF;
                RETURN NEW;
            END $$
            """
        )
        op.execute(
            "CREATE TRIGGER log_head_only_grows BEFORE UPDATE OR DELETE ON log_head "
            "FOR EACH ROW EXECUTE FUNCTION log_head_only_grows()"
        )
        return
    for table in RECORDS:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'records are append-only: {action} on {table} refused'); END"
            )
    op.execute(
        "CREATE TRIGGER log_head_no_delete BEFORE DELETE ON log_head "
        "BEGIN SELECT RAISE(ABORT, 'the log head only grows: DELETE on log_head refused'); END"
    )
    op.execute(
        "CREATE TRIGGER log_head_only_grows BEFORE UPDATE ON log_head "
        "WHEN NEW.id <> OLD.id OR NEW.size < OLD.size "
        "BEGIN SELECT RAISE(ABORT, 'the log head only grows: UPDATE on log_head refused'); END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in RECORDS:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        for table in (*RECORDS, "log_head"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP TRIGGER IF EXISTS log_head_only_grows ON log_head")
        op.execute("DROP FUNCTION IF EXISTS log_head_only_grows()")
        op.execute("DROP FUNCTION IF EXISTS record_refuse_change()")
        return
    for table in RECORDS:
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
    op.execute("DROP TRIGGER IF EXISTS log_head_no_delete")
    op.execute("DROP TRIGGER IF EXISTS log_head_only_grows")

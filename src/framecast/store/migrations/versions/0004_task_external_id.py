"""tasks: the client's own id (Kling's external_task_id), unique per tenant"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=200), nullable=True))
    # until now the id lived only in the task's echo: copy it out, oldest task first, so the first task
    # that took an id keeps it should an old database hold a duplicate (lookups always found the newest)
    tasks = sa.table(
        "tasks",
        sa.column("id", sa.String),
        sa.column("tenant", sa.String),
        sa.column("echo", sa.JSON),
        sa.column("external_id", sa.String),
        sa.column("created_at", sa.DateTime),
    )
    conn = op.get_bind()
    taken: set[tuple[str, str]] = set()
    for task_id, tenant, echo in conn.execute(
        sa.select(tasks.c.id, tasks.c.tenant, tasks.c.echo).order_by(tasks.c.created_at, tasks.c.id)
    ):
        ext = (echo or {}).get("external_task_id")
        if ext and (tenant, ext) not in taken:
            taken.add((tenant, ext))
            conn.execute(sa.update(tasks).where(tasks.c.id == task_id).values(external_id=ext))
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_tasks_tenant_external_id", ["tenant", "external_id"])


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_constraint("uq_tasks_tenant_external_id", type_="unique")
        batch_op.drop_column("external_id")

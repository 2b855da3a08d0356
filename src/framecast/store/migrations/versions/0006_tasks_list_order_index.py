"""tasks: the list order (tenant, created_at, id) as one index, so every page is an index seek"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    # replaces (tenant, created_at): its prefix serves every query the old one did
    op.create_index("ix_tasks_tenant_created_id", "tasks", ["tenant", "created_at", "id"])
    op.drop_index("ix_tasks_tenant_created", table_name="tasks")


def downgrade() -> None:
    op.create_index("ix_tasks_tenant_created", "tasks", ["tenant", "created_at"])
    op.drop_index("ix_tasks_tenant_created_id", table_name="tasks")

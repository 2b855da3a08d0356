"""tasks: the list order (tenant, created_at, id) as one index, so every page is an index seek

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 16:40:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # replaces (tenant, created_at): its prefix serves every query the old one did
    op.create_index("ix_tasks_tenant_created_id", "tasks", ["tenant", "created_at", "id"])
    op.drop_index("ix_tasks_tenant_created", table_name="tasks")


def downgrade() -> None:
    op.create_index("ix_tasks_tenant_created", "tasks", ["tenant", "created_at"])
    op.drop_index("ix_tasks_tenant_created_id", table_name="tasks")

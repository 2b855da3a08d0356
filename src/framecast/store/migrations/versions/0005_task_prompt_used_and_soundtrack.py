"""tasks: the prompt the service wrote (is_rec, need_expand_prompt) and the soundtrack record"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prompt_used", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("soundtrack", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("soundtrack")
        batch_op.drop_column("prompt_used")

"""The inbox keeps a digest of each command's content, so that an id reused for a different
command is told apart from a redelivery.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27

Rows from before have no digest; their ids keep counting as plain duplicates.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("inbox", sa.Column("fingerprint", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbox") as table:
        table.drop_column("fingerprint")

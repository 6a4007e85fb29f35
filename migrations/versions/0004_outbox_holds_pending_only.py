"""The outbox holds the events waiting to be published: the relay deletes a row once the
broker confirmed it, and this revision deletes the rows earlier versions had marked published.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28

Every event about an order stays in the order history (`order_history`: the same event id
and text), which is what replays and reports read; its published outbox row was a second copy
that nothing read and nothing pruned. Events about no order (the answer to a refused setup
command or an unreadable command) have no history row, so theirs stay, marked published.

The schema does not change: `published_at` stays, so that a relay of the version before,
still leading during a rolling upgrade, can go on marking rows. This version's relay skips
them as it always did, and deletes them when it takes over (`workers.outbox.remove_marked`).

One statement: on a large outbox the first start after the upgrade waits for it (on
PostgreSQL nothing else does: no pending row is touched). The space goes to new rows; it is
not given back to the file system.

Downgrading changes nothing: the version before reads only pending rows, and the deleted
ones are in the history.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DELETE FROM outbox WHERE published_at IS NOT NULL AND subject IS NOT NULL")


def downgrade() -> None:
    pass

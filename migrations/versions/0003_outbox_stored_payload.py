"""The outbox takes each event's data in the stored form (decimals and dates tagged, the same
text as the order history), and the relay derives the wire form when it publishes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28

A new column, `stored_payload`, beside `payload` (the wire form), which becomes optional:
while the version before and this one overlap in a rolling upgrade, each keeps working.
- Rows of this version's workers have `stored_payload` and no `payload`. A relay of the
  version before, which sends `payload` as it is, stops at such a row (it cannot send
  nothing) instead of publishing tagged decimals downstream, and gives up leading, so that a
  relay of this version takes over.
- Rows of the version before's workers have `payload` only; this version's relay sends it as
  it is (wire JSON has no tags).
Once no process of the version before runs, `payload` holds only rows already published,
and a later revision can drop it.

Downgrading writes the wire form of pending rows into `payload` first, so that the older relay
publishes them. The conversion is a frozen copy of `workers.event_json.wire_from_stored` at
this revision: a migration must not change when the code does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TAG = re.compile(r'\{"\$(?:decimal|datetime|date)":("[^"\\]*")\}')
_UNPLAIN = re.compile(r'\{"\$decimal":"([^"]*E[^"]*|-0(?:\.0*)?)"\}')


def _plain_digits(value: Decimal) -> str:
    text = format(value, "f")
    return text[1:] if text[0] == "-" and not value else text


def _wire(stored: str) -> str:
    if '{"$' not in stored:
        return stored
    stored = _UNPLAIN.sub(
        lambda m: '{"$decimal":"' + _plain_digits(Decimal(m.group(1))) + '"}', stored
    )
    return "".join(_TAG.split(stored))


def upgrade() -> None:
    # SQLite cannot drop a NOT NULL in place: batch mode rebuilds the table (and its index).
    with op.batch_alter_table("outbox") as table:
        table.alter_column("payload", existing_type=sa.Text(), nullable=True)
        table.add_column(sa.Column("stored_payload", sa.Text(), nullable=True))


def downgrade() -> None:
    connection = op.get_bind()
    pending = connection.execute(
        sa.text(
            "SELECT id, stored_payload FROM outbox"
            " WHERE published_at IS NULL AND stored_payload IS NOT NULL"
        )
    ).all()
    for row_id, stored in pending:
        connection.execute(
            sa.text("UPDATE outbox SET payload = :wire WHERE id = :id"),
            {"wire": _wire(stored), "id": row_id},
        )
    # Published rows of this version keep no wire form; the column is required again.
    connection.execute(sa.text("UPDATE outbox SET payload = stored_payload WHERE payload IS NULL"))
    with op.batch_alter_table("outbox") as table:
        table.drop_column("stored_payload")
        table.alter_column("payload", existing_type=sa.Text(), nullable=False)

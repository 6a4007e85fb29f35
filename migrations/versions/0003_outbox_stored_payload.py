"""The outbox holds each event's data in the stored form (decimals and dates tagged, the same
text as the order history), and the relay derives the wire form when it publishes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28

The column is renamed (`payload` -> `stored_payload`) rather than reused: a relay of the
version before sends `payload` as it is, and would publish tagged decimals to downstream
systems while old and new processes overlap in an upgrade. With the rename it fails on the
missing column and retries until it is replaced, publishing nothing; an old worker likewise
fails its inserts and hands its commands back. Rows pending at the upgrade hold the wire form,
which the new relay sends unchanged.

Downgrading turns the pending rows' data back into the wire form first, so the older relay
publishes them correctly. The conversion is a frozen copy of `workers.event_json`'s
`wire_from_stored` at this revision: a migration must not change when the code does.
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
    op.execute("ALTER TABLE outbox RENAME COLUMN payload TO stored_payload")


def downgrade() -> None:
    connection = op.get_bind()
    pending = connection.execute(
        sa.text("SELECT id, stored_payload FROM outbox WHERE published_at IS NULL")
    ).all()
    for row_id, stored in pending:
        wire = _wire(stored)
        if wire != stored:
            connection.execute(
                sa.text("UPDATE outbox SET stored_payload = :wire WHERE id = :id"),
                {"wire": wire, "id": row_id},
            )
    op.execute("ALTER TABLE outbox RENAME COLUMN stored_payload TO payload")

"""The outbox as the relay sees it: events committed with the state they describe, waiting to
be published, oldest first.

The outbox holds what waits: a row the broker confirmed is deleted, since the order's history
keeps its event (the same id and text) for good. Keeping published rows marked instead cost
PostgreSQL ten times as much per row (34 against 3.5 us: an UPDATE writes a new copy of the
row and its payload) and let the table grow without bound. Only events about no order (the
answer to a refused setup command or to an unreadable command) have no history row: their
outbox row is their one stored copy, so it stays, marked published.

Each row carries a stable `event_id` (a UUID given when the event was recorded, the
CloudEvents `id`), so a re-send after a crash between publishing and `settle_published`
repeats the same id and consumers can drop the duplicate.

How a relay uses it, one batch per transaction:

    with engine.begin() as connection:
        batch = fetch_batch(connection, 100)
        ... publish each record, wait for the broker's confirms ...
        settle_published(connection, [r.id for r in batch])

On PostgreSQL `fetch_batch` locks its rows FOR UPDATE SKIP LOCKED, so several relays share
the outbox without sending a row twice. On SQLite a write transaction holds the one write lock
while the relay waits for confirms, stalling the workers; there, fetch in one short
transaction and remove in another (a crash in between only re-sends, which the ids make safe).
Events of one order are fetched in the order they were recorded; publishing them in that
order needs one relay, or one relay per shard of orders.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.engine import Connection

from schemas.tables import OUTBOX
from workers.event_json import wire_from_stored
from workers.sql_lists import DIALECTS, bound_list, one_of
from workflows.events import Event


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    id: int
    event_id: uuid.UUID
    type: str
    subject: str | None
    correlation_id: str | None
    stored_payload: str  # `workers.event_json`'s stored form, or the wire form of older rows
    created_at: datetime

    def wire_payload(self) -> str:
        """The data as it is published: JSON with decimals as strings, dates ISO."""
        return wire_from_stored(self.stored_payload)

    def data(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.wire_payload())
        return loaded

    def event(self) -> Event:
        """The event with its wire data (strings for decimals and dates), for example for
        `schemas.encoding.encode_event(record.event(), event_id=str(record.event_id), ...)`."""
        return Event(self.type, self.subject, self.data())


_PENDING = OUTBOX.c.published_at.is_(None)
_COLUMNS = (
    OUTBOX.c.id,
    OUTBOX.c.event_id,
    OUTBOX.c.type,
    OUTBOX.c.subject,
    OUTBOX.c.correlation_id,
    # Whichever form the row has (`schemas.tables.OutboxRow`); wire JSON passes the
    # derivation unchanged.
    func.coalesce(OUTBOX.c.stored_payload, OUTBOX.c.payload),
    OUTBOX.c.created_at,
)
_BATCH = (
    select(*_COLUMNS)
    .where(_PENDING, OUTBOX.c.id > bindparam("after"))
    .order_by(OUTBOX.c.id)
    .limit(bindparam("limit"))
)
_BATCH_LOCKED = _BATCH.with_for_update(skip_locked=True)
_REMOVE = {
    dialect: delete(OUTBOX).where(one_of(OUTBOX.c.id, "ids", dialect), _PENDING)
    for dialect in DIALECTS
}
_MARK = {
    dialect: update(OUTBOX)
    .where(one_of(OUTBOX.c.id, "ids", dialect), _PENDING)
    .values(published_at=bindparam("at"))
    for dialect in DIALECTS
}
# The history holds every event about an order (`workers.store_events`).
_MARKED_WITH_HISTORY = delete(OUTBOX).where(
    OUTBOX.c.published_at.is_not(None), OUTBOX.c.subject.is_not(None)
)
_PENDING_COUNT = select(func.count()).select_from(OUTBOX).where(_PENDING)
_OLDEST_PENDING = select(OUTBOX.c.created_at).where(_PENDING).order_by(OUTBOX.c.id).limit(1)


def fetch_batch(
    connection: Connection, limit: int = 100, after: int = 0, *, lock: bool = True
) -> list[OutboxRecord]:
    """Up to `limit` unpublished rows with ids above `after`, oldest first. With `lock` on
    PostgreSQL they stay locked (skipping rows another relay holds) until the caller's
    transaction ends; a relay elected to be the only one (`workers.relay`) needs no locks,
    which would cost a write to every row fetched."""
    locks = lock and connection.dialect.name == "postgresql"
    rows = connection.execute(_BATCH_LOCKED if locks else _BATCH, {"limit": limit, "after": after})
    return [OutboxRecord(*row) for row in rows]


def settle_published(
    connection: Connection, ids: Sequence[int], *, kept: Sequence[int] = ()
) -> int:
    """Settle rows the broker confirmed: delete `ids` (events in the order history) and mark
    `kept` published (events about no order, which the outbox alone stores). Returns how many
    were still pending."""
    dialect = connection.dialect.name
    settled = 0
    if ids:  # one statement text for any number of ids
        settled += connection.execute(_REMOVE[dialect], {"ids": bound_list(ids, dialect)}).rowcount
    if kept:
        moment = datetime.now(UTC)
        parameters = {"ids": bound_list(kept, dialect), "at": moment}
        settled += connection.execute(_MARK[dialect], parameters).rowcount
    return settled


def pending_count(connection: Connection) -> int:
    count: int = connection.execute(_PENDING_COUNT).scalar_one()
    return count


def oldest_pending_age(connection: Connection, now: datetime | None = None) -> timedelta | None:
    """How long the oldest unpublished row has waited; None when nothing waits."""
    created: datetime | None = connection.execute(_OLDEST_PENDING).scalar_one_or_none()
    if created is None:
        return None
    return (now or datetime.now(UTC)) - created


def remove_marked(connection: Connection) -> int:
    """Delete rows marked published that the history also holds. A relay of a version before
    0004 marked every row it published, and may still lead during a rolling upgrade; the relay
    of this version clears what it left when it takes over."""
    return connection.execute(_MARKED_WITH_HISTORY).rowcount

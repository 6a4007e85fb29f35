"""Recording events (outbox and order history in the command's transaction) and reading an
order's history back.

Each event's data is encoded once, in the stored form (`workers.event_json`: decimals and
dates tagged, `{"$decimal": "12.50"}`), and the same text goes into its outbox row and, for an
event about an order, its history row. `history.for_order` returns events equal to those
recorded, exactly as the in-memory store does (`prepay order show` and replays read it from
there); the relay publishes the wire form derived from the outbox row.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select

from schemas.tables import ORDER_HISTORY, OUTBOX
from workers.event_json import decode_stored, encode_stored
from workers.store_bulk import insert_many
from workflows.events import Event

if TYPE_CHECKING:
    from workers.store import SqlUnitOfWork


@dataclass(slots=True)
class EventRows:
    """Outbox and history rows waiting to be inserted (a batch inserts them once, at its end)."""

    outbox: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)

    def extend(self, other: EventRows) -> None:
        self.outbox.extend(other.outbox)
        self.history.extend(other.history)

    def clear(self) -> None:
        self.outbox.clear()
        self.history.clear()


def event_rows(correlation_id: str | None, events: list[Event], rows: EventRows) -> None:
    """One outbox row per event, one history row per event about an order; each event gets
    its stable id and its one encoding here, shared by both rows."""
    now = datetime.now(UTC)
    for event in events:
        event_id = uuid.uuid4()
        payload = encode_stored(event.data)
        rows.outbox.append(
            {
                "event_id": event_id,
                "type": event.type,
                "subject": event.subject,
                "correlation_id": correlation_id,
                "stored_payload": payload,
                "created_at": now,
            }
        )
        if event.subject is not None:
            rows.history.append(
                {
                    "order_id": event.subject,
                    "event_id": event_id,
                    "type": event.type,
                    "correlation_id": correlation_id,
                    "payload": payload,
                    "created_at": now,
                }
            )


def insert_rows(uow: SqlUnitOfWork, rows: EventRows) -> None:
    insert_many(uow, OUTBOX, rows.outbox)
    insert_many(uow, ORDER_HISTORY, rows.history)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One event of an order's history with what the store knows about it."""

    sequence: int
    event_id: uuid.UUID
    correlation_id: str | None
    created_at: datetime
    event: Event


_HISTORY = (
    select(ORDER_HISTORY)
    .where(ORDER_HISTORY.c.order_id == bindparam("order_id"))
    .order_by(ORDER_HISTORY.c.id)
)


class SqlHistory:
    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    def for_order(self, order_id: str) -> list[Event]:
        return [entry.event for entry in self.entries(order_id)]

    def entries(self, order_id: str) -> list[HistoryEntry]:
        rows = self._uow.execute(_HISTORY, {"order_id": order_id})
        return [
            HistoryEntry(
                row.id,
                row.event_id,
                row.correlation_id,
                row.created_at,
                Event(row.type, row.order_id, decode_stored(row.payload)),
            )
            for row in rows
        ]

"""Recording events (outbox and order history in the command's transaction) and reading an
order's history back.

The outbox holds each event's data as wire JSON (decimals as exact strings, dates ISO), ready
for the relay. The history holds it as typed JSON, decimals and dates tagged
(`{"$decimal": "12.50"}`), so `history.for_order` returns events equal to those recorded,
exactly as the in-memory store does; `prepay order show` and replays read it from there.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import bindparam, select

from schemas.tables import ORDER_HISTORY, OUTBOX
from workers.outbox import encode_payload
from workers.store_bulk import insert_many
from workflows.events import Event

if TYPE_CHECKING:
    from workers.store import SqlUnitOfWork


def _typed_default(value: object) -> dict[str, str]:
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    raise TypeError(f"{type(value).__name__} cannot be stored in an event")


_DECODERS: dict[str, Callable[[str], Any]] = {
    "$decimal": Decimal,
    "$datetime": datetime.fromisoformat,
    "$date": date.fromisoformat,
}


def _typed_hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        ((key, value),) = obj.items()
        decode = _DECODERS.get(key)
        if decode is not None:
            return decode(value)
    return obj


_TYPED = json.JSONEncoder(default=_typed_default, separators=(",", ":"), ensure_ascii=False)


def _typed_fragment(value: object) -> orjson.Fragment:
    if isinstance(value, Decimal):
        return orjson.Fragment(b'{"$decimal":"' + str(value).encode() + b'"}')
    if isinstance(value, datetime):
        return orjson.Fragment(b'{"$datetime":"' + value.isoformat().encode() + b'"}')
    if isinstance(value, date):
        return orjson.Fragment(b'{"$date":"' + value.isoformat().encode() + b'"}')
    raise TypeError(f"{type(value).__name__} cannot be stored in an event")


def encode_typed(data: Any) -> str:
    """JSON that decodes (`decode_typed`) to values equal to `data`, Decimals and dates too.

    Written by orjson (a fourth of the standard library's cost, in the hot path); what it
    refuses, such as a lone surrogate in a text, goes the standard library's way."""
    try:
        return orjson.dumps(
            data, default=_typed_fragment, option=orjson.OPT_PASSTHROUGH_DATETIME
        ).decode()
    except orjson.JSONEncodeError:
        return _TYPED.encode(data)


def decode_typed(text: str) -> Any:
    return json.loads(text, object_hook=_typed_hook)


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
    its stable id here, shared by both rows."""
    now = datetime.now(UTC)
    for event in events:
        event_id = uuid.uuid4()
        rows.outbox.append(
            {
                "event_id": event_id,
                "type": event.type,
                "subject": event.subject,
                "correlation_id": correlation_id,
                "payload": encode_payload(event.data),
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
                    "payload": encode_typed(event.data),
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
                Event(row.type, row.order_id, decode_typed(row.payload)),
            )
            for row in rows
        ]

"""Domain events into CloudEvents JSON bodies, fast.

This runs for every event, so it serialises the domain's plain `data` dict straight to JSON
(Decimal as its exact digits, dates as ISO 8601) instead of building pydantic models; the
models in `schemas.events` check the result in tests.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from schemas.scalars import decimal_text
from workflows.events import Event


def to_envelope(
    event: Event,
    *,
    event_id: str,
    correlation_id: str | None,
    time: datetime,
    source: str = "prepay",
) -> dict[str, Any]:
    """The CloudEvents envelope as JSON-ready values (strings for decimals and dates)."""
    envelope = _envelope(event, event_id, correlation_id, time, source)
    envelope["data"] = _jsonable(event.data)
    return envelope


def encode_event(
    event: Event,
    *,
    event_id: str,
    correlation_id: str | None,
    time: datetime,
    source: str = "prepay",
) -> bytes:
    """The message body: the CloudEvents envelope as compact JSON (ASCII, so always UTF-8)."""
    envelope = _envelope(event, event_id, correlation_id, time, source)
    envelope["data"] = event.data
    return _ENCODER.encode(envelope).encode()


def _envelope(
    event: Event, event_id: str, correlation_id: str | None, time: datetime, source: str
) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": event.type,
        "time": _timestamp(time),
        "subject": event.subject,
        "datacontenttype": "application/json",
        "correlationid": correlation_id,
    }


def _timestamp(time: datetime) -> str:
    # CloudEvents wants RFC 3339, which needs an offset; a naive time would be a guess.
    if time.utcoffset() is None:
        raise ValueError("event time must be timezone-aware")
    return time.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _json_default(value: object) -> str:
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} has no JSON form in an event")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, Decimal | date):
        return _json_default(value)
    return value


_ENCODER = json.JSONEncoder(default=_json_default, separators=(",", ":"))

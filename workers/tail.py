"""`prepay tail [PATTERN...]`: events as they are published, one line each.

A private queue (exclusive, gone when the tail ends) is bound to `prepay.events` with each
pattern (topic syntax: `order.*`, `#.posted`, `#` for everything), so a tail sees what is
published from the moment it is bound, and takes nothing from any other consumer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from workers import topology
from workers.amqp import connect
from workers.cli_render import event_detail, text


def follow(
    amqp_url: str,
    patterns: Sequence[str],
    shards: int,
    show: Callable[[bytes], None],
    *,
    count: int | None = None,
    on_bound: Callable[[], None] = lambda: None,
    inactivity_timeout: float | None = None,
) -> int:
    """Call `show` with each event's body until `count` were shown (or forever), or until
    nothing arrived for `inactivity_timeout` seconds; returns how many were shown."""
    connection = connect(amqp_url)
    shown = 0
    try:
        channel = connection.channel()
        topology.declare(channel, shards)
        queue = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
        for pattern in patterns:
            channel.queue_bind(queue, topology.EVENTS, pattern)
        on_bound()
        if count == 0:
            return 0
        for method, _properties, body in channel.consume(
            queue, auto_ack=True, inactivity_timeout=inactivity_timeout
        ):
            if method is None:
                break
            show(body)
            shown += 1
            if count is not None and shown >= count:
                break
        return shown
    finally:
        if connection.is_open:
            connection.close()


def line(body: bytes) -> str:
    """One event, readable: local time, type, order, what happened."""
    try:
        envelope: dict[str, Any] = json.loads(body)
        data = envelope.get("data") or {}
        event_type = str(envelope.get("type", "?"))
        when = _local_time(envelope.get("time"))
        detail = event_detail(event_type, data) if isinstance(data, dict) else ""
        state = text(data.get("state")) if isinstance(data, dict) else ""
    except (ValueError, KeyError, TypeError):
        return f"(unreadable event) {body[:200]!r}"
    subject = text(envelope.get("subject"))
    parts = [when, f"{event_type:<30}", f"{subject:<14}", f"{state:<20}", detail]
    return "  ".join(parts).rstrip()


def _local_time(value: object) -> str:
    if not isinstance(value, str):
        return "--:--:--"
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return moment.astimezone().strftime("%H:%M:%S")
